"""Opening a SQLite database: WAL, a schema version, migrations in one transaction.

Every Hearth database goes through ``open_db``: ``user_version`` holds the
schema, the migrations that bring it up to date run in one transaction (never
half-applied), and a database written by a newer Hearth is either refused or
opened read-only with a notice. A file that is not a database, or is damaged,
is a ``DamagedDatabaseError`` whose message says so; ``set_aside`` moves such a file
out of the way (never deletes it) so a fresh one can be built.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from app.core.jobs import HearthError

log = logging.getLogger(__name__)

Migration = Callable[[sqlite3.Connection], None]
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


class DatabaseError(HearthError):
    pass


class NewerSchemaError(DatabaseError):
    pass


class DamagedDatabaseError(DatabaseError):
    def __init__(self, message: str, path: Path):
        super().__init__(message)
        self.path = path


def is_damage(exc: BaseException) -> bool:
    """True for SQLite's 'not a database' and 'disk image is malformed', not for a lock or a full disk."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPT_CODES
    text = str(exc)
    return "not a database" in text or "malformed" in text


def _not_ours(exc: sqlite3.OperationalError) -> bool:
    """A migration that failed because the tables are not what the schema version says (a hand-made or
    hostile file), not because of a lock or a full disk."""
    text = str(exc)
    return text.startswith(("no such table", "no such column", "duplicate column")) or "already exists" in text


class Database:
    """One connection (isolation_level=None: we say when transactions start)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, version: int, read_only: bool = False,
                 notice: str = ""):
        self.conn = conn
        self.path = path
        self.version = version
        self.read_only = read_only
        self.notice = notice
        self._lock = threading.RLock()

    def execute(self, sql: str, args: Sequence = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, args)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception; a nested call joins the outer one."""
        with self._lock:
            if self.conn.in_transaction:
                yield self.conn
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


SCHEMA_RETRIES = 5


class _Connection(sqlite3.Connection):
    """Prepares a statement again when another connection changed the schema meanwhile. SQLite retries
    that itself, except around a virtual table being dropped (the chat search backfill drops its old FTS5
    index on a thread of its own): then a statement fails with SQLITE_SCHEMA, worded as "no such table"
    for a table that is there. Such a statement did nothing, so running it again is safe."""

    def execute(self, sql, parameters=(), /):
        for attempt in range(SCHEMA_RETRIES):
            try:
                return super().execute(sql, parameters)
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorname", "") != "SQLITE_SCHEMA" or attempt == SCHEMA_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")


def _connect(target: str | Path, uri: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(target, timeout=10, isolation_level=None, check_same_thread=False, uri=uri,
                           factory=_Connection)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _open_read_only(path: Path) -> sqlite3.Connection:
    return _connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def open_db(path: Path, migrations: Sequence[Migration], what: str, newer: str = "read-only") -> Database:
    """Opens (creating if need be) the database at path, migrated to len(migrations).

    what names it in messages ("the chat history"); newer is "read-only" or "refuse":
    what to do with a schema from a newer Hearth.
    """
    path = Path(path)
    target = len(migrations)
    conn = None
    try:
        conn = _connect(path)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > target:
            message = (f"{what} ({path}) was written by a newer Hearth (schema {version}, this one knows "
                       f"{target})")
            conn.close()
            if newer == "refuse":
                raise NewerSchemaError(message + "; update Hearth to use it.")
            notice = message + "; it is open read-only so nothing is lost. Update Hearth to add to it."
            log.warning(notice)
            return Database(_open_read_only(path), path, version, read_only=True, notice=notice)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            db = Database(conn, path, version)
            if version < target:
                with db.transaction():
                    for step in range(version, target):
                        try:
                            migrations[step](conn)
                        except sqlite3.OperationalError as exc:
                            if not _not_ours(exc):
                                raise
                            raise DamagedDatabaseError(
                                f"{what} ({path}) is damaged: its tables are not the ones its schema version "
                                f"({version}) says", path) from exc
                    conn.execute(f"PRAGMA user_version = {target}")
                db.version = target
                log.info("%s migrated from schema %d to %d", what, version, target)
            return db
        except sqlite3.OperationalError as exc:
            if "readonly" not in str(exc) and "read-only" not in str(exc):
                raise
            conn.close()
            notice = (f"{what} ({path}) cannot be written here ({exc}); it is open read-only, "
                      f"as it is (schema {version}).")
            log.warning(notice)
            return Database(_open_read_only(path), path, version, read_only=True, notice=notice)
    except DamagedDatabaseError:
        if conn is not None:
            conn.close()
        raise
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        if is_damage(exc):
            raise DamagedDatabaseError(f"{what} ({path}) is damaged: {exc}", path) from exc
        raise DatabaseError(f"{what} ({path}) cannot be opened: {exc}") from exc


def _schema(conn: sqlite3.Connection) -> dict[tuple[str, str], list[tuple]]:
    """Every table, index, view and trigger (SQLite's own left out), with each table's columns."""
    out = {}
    for kind, name in conn.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").fetchall():
        quoted = name.replace('"', '""')
        cols = conn.execute(f'PRAGMA table_info("{quoted}")').fetchall() if kind == "table" else []
        out[(kind, name)] = [tuple(c[1:]) for c in cols]  # name, type, not null, default, key
    return out


def schema_differences(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[str]:
    """How a database differs from what its migrations build (foreign tables, triggers, columns missing
    or added by hand), in words; empty when it is exactly ours."""
    ref = sqlite3.connect(":memory:")
    try:
        for step in migrations:
            step(ref)
        want = _schema(ref)
    finally:
        ref.close()
    have = _schema(conn)
    out = [f"an unexpected {kind} {name[:60]!r}" for kind, name in sorted(have.keys() - want.keys())]
    out += [f"no {kind} {name!r}" for kind, name in sorted(want.keys() - have.keys())]
    for key in sorted(want.keys() & have.keys()):
        if want[key] != have[key]:
            out.append(f"the {key[0]} {key[1]!r} has other columns than Hearth's")
    return out


def set_aside(path: Path) -> Path:
    """Renames a damaged database (and its -wal/-shm files) beside itself; returns the new name."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(str(path) + suffix)
        if part.exists():
            part.rename(Path(str(aside) + suffix))
    log.warning("set aside the damaged %s as %s", path, aside)
    return aside
