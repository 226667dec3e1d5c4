#!/usr/bin/env python3
"""Checks every file of the model catalog against the hub, before a release and after any edit.

For each file of each entry (variants too) one HEAD request to
``{hub}/{repo}/resolve/{revision}/{path}``: the file must exist, its size must
match the catalog's, and where the hub publishes a sha256 (``X-Linked-Etag``,
LFS files) and the catalog pins one, they must match. Redirects are not
followed for the size and hash (the hub's first answer carries them); a small
file that is redirected without ``X-Linked-Size`` is asked again at the
redirect's target. Standard library only: the release workflow runs it before
installing anything.

    python scripts/check_catalog.py [--hub URL] [--catalog PATH] [--only ID ...]

Exit status: 0 all match, 1 any mismatch or unanswered request, 2 the catalog
itself is invalid. HF_TOKEN, if set, is sent to the hub's own host only.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.jobs import ModelError  # noqa: E402
from app.core.models.catalog import load_catalog  # noqa: E402
from app.core.models.download import hub_url  # noqa: E402

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_HOPS = 5


@dataclass
class Check:
    entry: str
    path: str
    url: str
    size: int
    sha256: str | None
    problem: str = ""
    note: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _published_sha(headers) -> str | None:
    value = (headers.get("X-Linked-Etag") or "").strip().strip('"')
    if value.startswith("W/"):
        value = value[2:].strip('"')
    return value.lower() if _SHA256.match(value.lower()) else None


def _head(opener, url: str, hub_host: str, token: str | None, timeout: float):
    req = urllib.request.Request(url, method="HEAD", headers={
        "User-Agent": "hearth-check-catalog", "Accept-Encoding": "identity"})
    if token and urllib.parse.urlsplit(url).netloc == hub_host:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.headers
    except urllib.error.HTTPError as exc:  # 3xx arrive here too (redirects are not followed)
        return exc.code, exc.headers


def check_file(c: Check, hub_host: str, token: str | None, timeout: float) -> Check:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(), _NoRedirect())
    url, size, sha = c.url, None, None
    try:
        for _ in range(MAX_HOPS):
            status, headers = _head(opener, url, hub_host, token, timeout)
            sha = sha or _published_sha(headers)
            linked = headers.get("X-Linked-Size")
            if linked and linked.isdigit():
                size = int(linked)
            if status in (301, 302, 303, 307, 308):
                if size is not None:
                    break
                location = headers.get("Location")
                if not location:
                    c.problem = f"redirect ({status}) without a Location"
                    return c
                url = urllib.parse.urljoin(url, location)
                continue
            if status == 200:
                length = headers.get("Content-Length")
                if size is None and length and length.isdigit():
                    size = int(length)
                break
            if status == 404:
                c.problem = "MISSING: not found on the hub (404)"
            elif status in (401, 403):
                c.problem = f"REFUSED ({status}): gated or private; set HF_TOKEN to check it"
            else:
                c.problem = f"the hub answered {status}"
            return c
        else:
            c.problem = f"more than {MAX_HOPS} redirects"
            return c
    except (urllib.error.URLError, OSError) as exc:
        c.problem = f"no answer: {getattr(exc, 'reason', exc)}"
        return c
    if size is None:
        c.problem = "the hub gave no size"
    elif size != c.size:
        c.problem = f"SIZE: catalog {c.size}, hub {size} ({size - c.size:+d} bytes)"
    if sha and c.sha256 and sha != c.sha256:
        c.problem = (c.problem + "; " if c.problem else "") + f"SHA256: catalog {c.sha256}, hub {sha}"
    elif sha and not c.sha256:
        c.note = f"hub sha256 {sha[:16]}… (not pinned)"
    elif c.sha256 and not sha:
        c.note = "pinned sha256 not published by the hub (checked at download)"
    return c


def plan(entries, hub: str, only: set[str]) -> list[Check]:
    checks = []
    for e in entries:
        if only and e.id not in only:
            continue
        for f in e.files:
            checks.append(Check(e.id, f.path, hub_url(hub, e.repo, e.revision, f.path), f.size, f.sha256))
        for v in e.variants:
            checks.append(Check(e.id, f"{v['path']} (variant)", hub_url(hub, e.repo, e.revision, v["path"]),
                                v["size"], v.get("sha256")))
    return checks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hub", default=os.environ.get("HF_ENDPOINT") or "https://huggingface.co",
                    help="the hub's address (default: HF_ENDPOINT or https://huggingface.co)")
    ap.add_argument("--catalog", type=Path, default=None, help="the catalog file (default: the shipped one)")
    ap.add_argument("--only", nargs="*", default=[], metavar="ID", help="check only these entries")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--jobs", type=int, default=8, help="requests in parallel")
    args = ap.parse_args(argv)

    try:
        entries = load_catalog(args.catalog)
    except ModelError as exc:
        print(f"the catalog is invalid: {exc}", file=sys.stderr)
        return 2
    unknown = set(args.only) - {e.id for e in entries}
    if unknown:
        print(f"not in the catalog: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    hub = args.hub.rstrip("/")
    hub_host = urllib.parse.urlsplit(hub).netloc
    token = os.environ.get("HF_TOKEN") or None
    checks = plan(entries, hub, set(args.only))
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        done = list(pool.map(lambda c: check_file(c, hub_host, token, args.timeout), checks))

    print(f"catalog check against {hub}: {len(done)} files in {len({c.entry for c in done})} entries")
    bad = [c for c in done if c.problem]
    for entry in dict.fromkeys(c.entry for c in done):
        rows = [c for c in done if c.entry == entry]
        print(f"\n{entry}: {'FAIL' if any(c.problem for c in rows) else 'ok'}")
        for c in rows:
            status = c.problem or "ok"
            print(f"  {'✗' if c.problem else '✓'} {c.path} ({c.size} bytes): {status}"
                  + (f" [{c.note}]" if c.note else ""))
    print(f"\n{len(done) - len(bad)} ok, {len(bad)} failed")
    if bad:
        print("fix resources/catalog.json (names, sizes, sha256 with the revision it belongs to), "
              "then run this again", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
