"""Real documents of every kind Hearth reads, written in the test (no network, no office suite)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_bytes(pages: list[list[str]], outline: list[tuple[str, int, str | None]] = (), encrypt: str = "",
              image_only: bool = False) -> bytes:
    """A PDF whose pages draw these lines in Helvetica; ``outline``: (title, page index, parent title)."""
    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                                                NameObject("/Subtype"): NameObject("/Type1"),
                                                NameObject("/BaseFont"): NameObject("/Helvetica")}))
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        stream = DecodedStreamObject()
        if image_only:  # a grey 2x2 picture, as a scanner makes (bigger): no text operators at all
            image = DecodedStreamObject()
            image.set_data(b"\x40\x80\xc0\xff")
            image.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
                          NameObject("/Width"): NumberObject(2), NameObject("/Height"): NumberObject(2),
                          NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                          NameObject("/BitsPerComponent"): NumberObject(8)})
            page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): DictionaryObject(
                {NameObject("/Im1"): writer._add_object(image)})})
            stream.set_data(b"q 468 0 0 648 72 72 cm /Im1 Do Q")
        else:
            page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject(
                {NameObject("/F1"): font})})
            ops = ["BT /F1 11 Tf 72 740 Td 13 TL"] + [f"({_escape(line)}) Tj T*" for line in lines] + ["ET"]
            stream.set_data("\n".join(ops).encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    parents = {}
    for title, index, parent in outline:
        parents[title] = writer.add_outline_item(title=title, page_number=index, parent=parents.get(parent))
    if encrypt:
        writer.encrypt(encrypt, algorithm="RC4-128")  # pypdf writes RC4 without the cryptography package
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx(path: Path, extra: dict[str, bytes] | None = None) -> Path:
    """A Word file made by python-docx: a title, headings two levels deep, paragraphs and a table."""
    import docx as python_docx

    doc = python_docx.Document()
    doc.core_properties.title = "Quarterly report"
    doc.add_heading("Introduction", level=1)
    doc.add_paragraph("Hearth reads Word files. The kettle is on.")
    doc.add_heading("Method", level=2)
    doc.add_paragraph("We counted the teacups twice.")
    table = doc.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "cups", "seven"
    doc.add_heading("Results", level=1)
    doc.add_paragraph("Seven teacups, one saucer.")
    doc.save(path)
    if extra:
        rewrite_zip(path, extra)
    return path


def rewrite_zip(path: Path, replace: dict[str, bytes]) -> None:
    """The zip again with these members replaced or added (a bomb, a hostile XML part)."""
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    members.update(replace)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


ODT_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
  xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3">
 <office:body><office:text>
  <text:h text:outline-level="1">Garden</text:h>
  <text:p>Beans climb<text:s text:c="2"/>the poles.<text:tab/>Peas too.</text:p>
  <text:h text:outline-level="2">Watering</text:h>
  <text:list><text:list-item><text:p>Every <text:span>second</text:span> morning.</text:p></text:list-item></text:list>
  <text:h text:outline-level="1">Shed</text:h>
  <text:p>Spades<text:note><text:note-body><text:p>a footnote</text:p></text:note-body></text:note> and forks.</text:p>
 </office:text></office:body>
</office:document-content>"""


def odt(path: Path) -> Path:
    """An OpenDocument text written as LibreOffice writes one: the stored mimetype first, then content.xml."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", ODT_CONTENT, zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0"?><manifest:manifest xmlns:manifest='
                   '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>', zipfile.ZIP_DEFLATED)
    return path


def _chapter(title: str, body: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n'
            f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title>'
            f'<style>p {{ color: red }}</style></head><body>{body}</body></html>')


def epub(path: Path) -> Path:
    """An EPUB 3: container, package (OPF) with a spine listing chapter two before a stray file, two chapters."""
    opf = """<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
 <metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>The Lighthouse</dc:title></metadata>
 <manifest>
  <item id="c1" href="text/one.xhtml" media-type="application/xhtml+xml"/>
  <item id="c2" href="text/two%20b.xhtml" media-type="application/xhtml+xml"/>
  <item id="css" href="style.css" media-type="text/css"/>
 </manifest>
 <spine><itemref idref="c1"/><itemref idref="css"/><itemref idref="c2"/></spine>
</package>"""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        z.writestr("META-INF/container.xml", '<?xml version="1.0"?><container version="1.0" xmlns='
                   '"urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/book.opf"'
                   ' media-type="application/oebps-package+xml"/></rootfiles></container>')
        z.writestr("OEBPS/book.opf", opf)
        z.writestr("OEBPS/style.css", "p { margin: 0 }")
        z.writestr("OEBPS/text/one.xhtml", _chapter("One", "<h1>Arrival</h1><p>The keeper lit the lamp.</p>"
                                                           "<h2>Night</h2><p>Waves on the rocks.</p>"))
        z.writestr("OEBPS/text/two b.xhtml", _chapter("Two", "<h1>Departure</h1><p>Morning fog&#160;lifted.</p>"))
    return path
