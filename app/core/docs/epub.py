"""EPUB: the container names the package (OPF), whose spine orders the XHTML chapters; each chapter goes
through the HTML reader. Zip and XML through SafeZip and defusedxml (ebooklib is AGPL, and not needed)."""

from __future__ import annotations

from app.core.docs.guard import SafeZip, parse_xml
from app.core.docs.html import add_html, decode_html
from app.core.docs.model import Builder, Limits, UnreadableDocument

CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
OPF = "{http://www.idpf.org/2007/opf}"
DC = "{http://purl.org/dc/elements/1.1/}"
XHTML = {"application/xhtml+xml", "text/html", "application/xml"}


def read_epub(z: SafeZip, limits: Limits, notes: list[str]) -> tuple[str, Builder]:
    container = parse_xml(z.read("META-INF/container.xml"), "META-INF/container.xml")
    rootfile = container.find(f".//{CONTAINER}rootfile")
    if rootfile is None or not rootfile.get("full-path"):
        raise UnreadableDocument("truncated or damaged (the EPUB names no package file)")
    opf_name = rootfile.get("full-path")
    if z.has("META-INF/encryption.xml") and b"EncryptedData" in z.read("META-INF/encryption.xml"):
        raise UnreadableDocument("encrypted e-book (DRM)")
    opf = parse_xml(z.read(opf_name), opf_name)
    items = {item.get("id"): item for item in opf.iter(f"{OPF}item")}
    builder = Builder(limits)
    first = ""
    for ref in opf.iter(f"{OPF}itemref"):
        item = items.get(ref.get("idref"))
        if item is None or item.get("media-type") not in XHTML or not item.get("href"):
            continue
        name = z.resolve(opf_name, item.get("href"))
        if not z.has(name):
            notes.append(f"chapter {name} is missing")
            continue
        heading = add_html(decode_html(z.read(name), notes), builder)
        first = first or heading
    found = opf.find(f".//{DC}title")
    title = " ".join((found.text or "").split()) if found is not None else ""
    return title or first, builder
