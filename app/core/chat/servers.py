"""The remote OpenAI-compatible servers the user added, kept with their keys.

The file lives in the data folder, readable only by the user (0600), and is read
as hostile: every entry is checked (name, URL, key) and a bad one is left out with
a log line. A key is stored with the origin it was given for and is sent only
there: an entry whose URL was changed behind Hearth's back loses its key.
Hearth connects to no server but these.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from app.core import paths
from app.core.jobs import InputError
from app.core.saved_json import SetAsideError, parse_versioned, set_aside

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1
MAX_SERVERS = 64
MAX_FILE_BYTES = 1 << 20
_NAME_RX = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_KEY_RX = re.compile(r"^[\x21-\x7e]{1,4096}$")  # printable ASCII: nothing that could split a header


@dataclass(frozen=True)
class RemoteServer:
    name: str
    base_url: str  # normalised: scheme://host[:port]/path, no trailing slash
    api_key: str = ""
    key_origin: str = ""  # the origin the key was given for
    models: tuple[str, ...] = ()  # what /models listed when last asked (for the model pickers)

    @property
    def origin(self) -> str:
        return origin_of(self.base_url)

    def key_for(self, url: str) -> str:
        """The key, only for a URL on the origin it was made for."""
        if self.api_key and self.key_origin == self.origin and origin_of(url) == self.key_origin:
            return self.api_key
        return ""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME_RX.match(name):
        raise InputError(f"a server name is lower-case letters, digits, '.', '_' or '-' (got {name!r})")
    return name


def normalise_url(url: object) -> str:
    """http(s)://host[:port][/path]; an empty path becomes /v1, as every OpenAI client assumes."""
    if not isinstance(url, str) or len(url) > 2048:
        raise InputError("the server address is not a URL")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"the server address must start with http:// or https:// and name a host (got {url!r})")
    if parts.username or parts.password:
        raise InputError("put the API key in its own field, not in the address")
    if parts.query or parts.fragment:
        raise InputError("the server address takes no query or fragment")
    try:
        port = parts.port
    except ValueError as exc:
        raise InputError(f"the server address has a bad port: {exc}") from None
    if any(c.isspace() or not c.isprintable() for c in url.strip()):
        raise InputError("the server address contains spaces or control characters")
    path = parts.path.rstrip("/") or "/v1"
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{path}"


def check_key(key: object) -> str:
    if key and (not isinstance(key, str) or not _KEY_RX.match(key)):
        raise InputError("the API key must be printable ASCII without spaces (at most 4096 characters)")
    return key if isinstance(key, str) else ""


MAX_MODELS = 500


def check_models(models) -> tuple[str, ...]:
    if not isinstance(models, (list, tuple)):
        return ()
    return tuple(m for m in models[:MAX_MODELS] if isinstance(m, str) and 0 < len(m) <= 256 and m.isprintable())


def make_server(name: object, url: object, api_key: object = "", models=()) -> RemoteServer:
    """Each field checked (they come from a hostile file or the user) before a RemoteServer is made."""
    base = normalise_url(url)
    key = check_key(api_key)
    return RemoteServer(check_name(name), base, key, origin_of(base) if key else "", check_models(models))


class ServerList:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else paths.servers_file()
        self.problem = ""
        self.read_only, self._kept = False, ""

    # --- the file ------------------------------------------------------------------
    def load(self) -> dict[str, RemoteServer]:
        self.problem = ""  # why the file was not read, for the CLI to say
        self.read_only = False
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            return self._ignored(f"is unreadable: {exc.strerror or exc}")
        if stat.S_ISLNK(st.st_mode):  # never chmod through it or read keys from where it points
            return self._ignored("is a symbolic link, so it is not read (adding a server replaces it "
                                 "with a file of Hearth's own)")
        if not stat.S_ISREG(st.st_mode):
            return self._ignored("is not a regular file")
        try:  # no link followed, no FIFO waited on, if the file was swapped since lstat
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            return self._ignored(f"is unreadable: {exc.strerror or exc}")
        try:
            with os.fdopen(fd, "rb") as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
                    return self._ignored("is not a small regular file")
                if os.name == "posix" and st.st_mode & 0o077:
                    log.warning("the servers file %s was readable by others; made private", self.path)
                    try:
                        os.fchmod(fh.fileno(), 0o600)  # the file itself, never a link's target
                    except OSError:
                        pass
                raw = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            return self._ignored(f"is unreadable: {exc}")
        # Damaged: set aside and said once; newer: read, never written over (app.core.saved_json).
        got = parse_versioned(self.path, raw, SCHEMA_VERSION, "the server list")
        self.read_only, self._kept = got.read_only, got.note
        if got.data is None:
            return {}
        data = got.data
        if not isinstance(data.get("servers"), list):
            if not self.read_only:
                try:
                    set_aside(self.path, "no list of servers")
                except SetAsideError as exc:
                    return self._ignored(f"has no list of servers: {exc}")
            return {}
        out: dict[str, RemoteServer] = {}
        for item in data["servers"][:MAX_SERVERS]:
            try:
                if not isinstance(item, dict):
                    raise InputError("not an object")
                server = make_server(item.get("name"), item.get("base_url"), item.get("api_key") or "",
                                     item.get("models") or ())
                origin = item.get("key_origin", "")
                if server.api_key and origin != server.key_origin:
                    log.warning("server %s: its key was made for %r, not %s; the key is not used",
                                server.name, origin, server.origin)
                    server = RemoteServer(server.name, server.base_url, "", "", server.models)
                out[server.name] = server
            except InputError as exc:
                log.warning("the servers file has a bad entry (%s); left out", exc)
        return out

    def _ignored(self, why: str) -> dict:
        self.problem = f"the servers file {self.path} {why}; no servers are read from it"
        log.warning("%s", self.problem)
        return {}

    def _save(self, servers: dict[str, RemoteServer]) -> None:
        if self.read_only:  # load() ran just before: it knows whose file this is
            raise InputError(f"no server was added or removed: {self._kept}")
        data = {"schema_version": SCHEMA_VERSION, "servers": [
            {"name": s.name, "base_url": s.base_url, "api_key": s.api_key, "key_origin": s.key_origin,
             "models": list(s.models)}
            for s in servers.values()]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A new file (O_EXCL, never through a link planted at the name), private from the first byte;
        # the rename then replaces servers.json itself, a link there included.
        fd, name = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    # --- changes -------------------------------------------------------------------
    def add(self, name: str, url: str, api_key: str = "", models=()) -> RemoteServer:
        server = make_server(name, url, api_key, models)
        servers = self.load()
        servers[server.name] = server
        self._save(servers)
        return server

    def remove(self, name: str) -> None:
        servers = self.load()
        if servers.pop(name, None) is None:
            raise InputError(f"no server named {name!r}")
        self._save(servers)

    def get(self, name: str) -> RemoteServer | None:
        return self.load().get(name)

    def remote_models(self) -> list[str]:
        """Every known remote model as SERVER/MODEL, for the model pickers."""
        return [f"{s.name}/{m}" for s in self.load().values() for m in s.models]


def split_remote(spec: str | None, servers: dict[str, RemoteServer] | None = None):
    """'server-name/model-id' -> (server, model-id) when server-name is a server the user added, else None.
    The model id may hold slashes of its own (org/model); a local path never starts with a server name
    unless written so: ./name/... always means a path."""
    if not spec or "/" not in spec:
        return None
    name, model = spec.split("/", 1)
    if not model or not _NAME_RX.match(name):
        return None
    servers = ServerList().load() if servers is None else servers
    server = servers.get(name)
    return (server, model) if server else None
