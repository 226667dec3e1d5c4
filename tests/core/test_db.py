import sqlite3

import pytest

from app.core.db import DamagedDatabaseError, NewerSchemaError, open_db, set_aside


def _table(conn: sqlite3.Connection, name: str) -> None:
    conn.execute(f"CREATE TABLE {name} (x INTEGER)")


def test_a_new_database_is_wal_and_at_the_last_schema(tmp_path):
    db = open_db(tmp_path / "a.sqlite3", [lambda c: _table(c, "one"), lambda c: _table(c, "two")], "a test db")
    assert db.version == 2 and not db.read_only
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    again = open_db(tmp_path / "a.sqlite3", [lambda c: _table(c, "one"), lambda c: _table(c, "two")], "a test db")
    assert again.version == 2, "migrations that ran are not run again"


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path):
    path = tmp_path / "b.sqlite3"
    open_db(path, [lambda c: _table(c, "one")], "a test db").close()

    def broken(conn):
        _table(conn, "two")
        raise RuntimeError("migration bug")

    with pytest.raises(RuntimeError):
        open_db(path, [lambda c: _table(c, "one"), broken, lambda c: _table(c, "three")], "a test db")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"one"}, "half a migration is never left behind"


def test_a_newer_schema_is_read_only_or_refused(tmp_path):
    path = tmp_path / "c.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()
    db = open_db(path, [lambda c: _table(c, "one")], "the test db")
    assert db.read_only and "newer Hearth (schema 7" in db.notice
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.execute("INSERT INTO future VALUES (1)")
    db.close()
    with pytest.raises(NewerSchemaError, match="newer Hearth"):
        open_db(path, [lambda c: _table(c, "one")], "the test db", newer="refuse")


def test_transactions_commit_roll_back_and_nest(tmp_path):
    db = open_db(tmp_path / "d.sqlite3", [lambda c: _table(c, "t")], "a test db")
    with db.transaction():
        db.execute("INSERT INTO t VALUES (1)")
        with db.transaction():  # joins the outer one
            db.execute("INSERT INTO t VALUES (2)")
    with pytest.raises(KeyError), db.transaction():
        db.execute("INSERT INTO t VALUES (3)")
        raise KeyError("undo")
    assert [r[0] for r in db.execute("SELECT x FROM t ORDER BY x")] == [1, 2]
    assert not db.conn.in_transaction


def test_a_damaged_file_is_named_and_set_aside_never_deleted(tmp_path):
    path = tmp_path / "e.sqlite3"
    path.write_bytes(b"this was a database once" * 100)
    with pytest.raises(DamagedDatabaseError, match="is damaged") as info:
        open_db(path, [lambda c: _table(c, "t")], "the test db")
    assert info.value.path == path
    aside = set_aside(path)
    assert not path.exists() and aside.read_bytes() == b"this was a database once" * 100
    assert open_db(path, [lambda c: _table(c, "t")], "the test db").version == 1
