"""Documents (#25): every format Hearth reads, made here as real files; the bad ones skipped with a reason."""

from __future__ import annotations

import os
import time

import pytest

from app.core.docs.chunks import chunk, estimate_tokens
from app.core.docs.extract import Skipped, extract, extract_many
from app.core.docs.model import Document, Limits, UnreadableDocument
from tests.core import docs_files


def _check_places(doc: Document, budget: int = 40, overlap: int = 8) -> list:
    """Sections and chunks slice the full text exactly; chunks fit the budget, stay in their section, and
    together cover all of it (the gaps between them only the blank lines that separate paragraphs)."""
    assert doc.sections
    for section in doc.sections:
        assert doc.text[section.start:section.end] == section.text and section.text.strip() == section.text
    chunks = chunk(doc, budget_tokens=budget, overlap_tokens=overlap)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for section in doc.sections:
        mine = [c for c in chunks if section.start <= c.start < section.end]
        assert mine[0].start == section.start and mine[-1].end == section.end
        for before, after in zip(mine, mine[1:], strict=False):
            assert after.start < before.end or doc.text[before.end:after.start].strip() == ""
        for c in mine:
            assert c.end <= section.end and (c.page, c.heading_path) == (section.page, section.heading_path)
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text and estimate_tokens(c.text) <= budget
    return chunks


def _sparse(path, size: int) -> None:
    """A file of ``size`` zero bytes that costs no disk (a hole)."""
    with path.open("wb") as fh:
        fh.truncate(size)


def _where(doc: Document, words: str):
    """The (page, heading path) of the section holding these words."""
    [section] = [s for s in doc.sections if words in s.text]
    return section.page, section.heading_path


def test_plain_text_utf8_and_latin1_with_the_fallback_said(tmp_path):
    (tmp_path / "notes.txt").write_text("Crème brûlée for six.\n\nSecond paragraph, still here.\n", encoding="utf-8")
    (tmp_path / "old.txt").write_bytes("Café au lait — naïve résumé.".encode("cp1252"))
    good = extract(tmp_path / "notes.txt")
    assert good.kind == "text" and good.title == "notes" and good.notes == []
    assert good.text == "Crème brûlée for six.\n\nSecond paragraph, still here."
    _check_places(good, budget=8, overlap=2)
    old = extract(tmp_path / "old.txt")
    assert old.text == "Café au lait — naïve résumé."
    assert old.notes == ["not UTF-8: read as Windows-1252 (Western European)"]


def test_markdown_nested_headings_give_each_paragraph_its_path(tmp_path):
    (tmp_path / "guide.md").write_text(
        "# Guide\n\nIntro with **bold** and [a link](http://x).\n\n## Install\n\nRun `pip install`.\n\n"
        "### On Linux\n\n- apt first\n- then pip\n\n```\nmake all\n```\n\n## Use\n\n| key | value |\n|---|---|\n"
        "| a | 1 |\n\nThe end.\n", encoding="utf-8")
    doc = extract(tmp_path / "guide.md")
    assert doc.kind == "markdown" and doc.title == "Guide"
    assert _where(doc, "Intro with bold and a link.") == (None, ("Guide",))
    assert _where(doc, "Run pip install.") == (None, ("Guide", "Install"))
    assert _where(doc, "then pip") == (None, ("Guide", "Install", "On Linux"))
    assert _where(doc, "make all") == (None, ("Guide", "Install", "On Linux"))
    assert _where(doc, "a | 1") == (None, ("Guide", "Use"))
    assert "**" not in doc.text and "http://x" not in doc.text
    _check_places(doc, budget=8, overlap=2)


def test_html_skips_script_and_style_and_keeps_headings(tmp_path):
    (tmp_path / "page.html").write_bytes(
        b"<!doctype html><html><head><meta charset='windows-1252'><title>Caf\xe9 menu</title>"
        b"<style>h1 { color: red }</style><script>var secret = 'nope';</script></head><body>"
        b"<h1>Drinks</h1><p>Tea &amp; coffee.</p><h2>Cold</h2><p>Lemonade<br>Iced tea</p>"
        b"<h1>Food</h1><table><tr><td>Scone</td><td>2</td></tr></table><noscript>enable js</noscript></body></html>")
    doc = extract(tmp_path / "page.html")
    assert doc.kind == "html" and doc.title == "Café menu"
    assert "secret" not in doc.text and "color" not in doc.text and "enable js" not in doc.text
    assert _where(doc, "Tea & coffee.") == (None, ("Drinks",))
    assert _where(doc, "Iced tea") == (None, ("Drinks", "Cold"))
    assert _where(doc, "Scone | 2") == (None, ("Food",))
    _check_places(doc, budget=8, overlap=2)


def test_pdf_pages_and_outline_headings(tmp_path):
    lines = [f"Line {n} of the first page says something about tides and lamps." for n in range(30)]
    (tmp_path / "book.pdf").write_bytes(docs_files.pdf_bytes(
        [lines, ["Second page: the storm came at night."], ["Third page: calm again."]],
        outline=[("Chapter 1", 0, None), ("Chapter 2", 1, None), ("Calm", 2, "Chapter 2")]))
    doc = extract(tmp_path / "book.pdf")
    assert doc.kind == "pdf" and doc.title == "Chapter 1"
    assert [s.page for s in doc.sections] == [1, 2, 3]
    assert _where(doc, "Line 29 of the first page") == (1, ("Chapter 1",))
    assert _where(doc, "the storm came at night") == (2, ("Chapter 2",))
    assert _where(doc, "calm again") == (3, ("Chapter 2", "Calm"))
    chunks = _check_places(doc)
    assert len([c for c in chunks if c.page == 1]) > 1, "a long page is split"


def test_docx_made_by_python_docx(tmp_path):
    doc = extract(docs_files.docx(tmp_path / "report.docx"))
    assert doc.kind == "docx" and doc.title == "Quarterly report"
    assert _where(doc, "The kettle is on.") == (None, ("Introduction",))
    assert _where(doc, "We counted the teacups twice.") == (None, ("Introduction", "Method"))
    assert _where(doc, "seven") == (None, ("Introduction", "Method"))
    assert _where(doc, "one saucer") == (None, ("Results",))
    _check_places(doc, budget=8, overlap=2)


def test_odt_written_by_hand(tmp_path):
    doc = extract(docs_files.odt(tmp_path / "garden.odt"))
    assert doc.kind == "odt" and doc.title == "Garden"
    assert _where(doc, "Beans climb  the poles.\tPeas too.") == (None, ("Garden",))
    assert _where(doc, "Every second morning.") == (None, ("Garden", "Watering"))
    assert _where(doc, "Spades and forks.") == (None, ("Shed",))
    assert "footnote" not in doc.text
    _check_places(doc, budget=8, overlap=2)


def test_epub_chapters_in_spine_order(tmp_path):
    doc = extract(docs_files.epub(tmp_path / "lighthouse.epub"))
    assert doc.kind == "epub" and doc.title == "The Lighthouse"
    assert doc.text.index("keeper") < doc.text.index("fog")
    assert _where(doc, "The keeper lit the lamp.") == (None, ("Arrival",))
    assert _where(doc, "Waves on the rocks.") == (None, ("Arrival", "Night"))
    assert _where(doc, "Morning fog\xa0lifted.") == (None, ("Departure",))
    assert "margin" not in doc.text and "color" not in doc.text
    _check_places(doc, budget=8, overlap=2)


@pytest.mark.parametrize("name, make, reason", [
    ("scan.pdf", lambda p: p.write_bytes(docs_files.pdf_bytes([[], []], image_only=True)),
     "scanned PDF: no text layer"),
    ("locked.pdf", lambda p: p.write_bytes(docs_files.pdf_bytes([["secret plans"]], encrypt="hunter2")),
     "encrypted PDF (password needed)"),
    ("cut.pdf", lambda p: p.write_bytes(docs_files.pdf_bytes([["page one"], ["page two"]])[:700]),
     "truncated or damaged (the PDF ends early: no end-of-file marker)"),
    ("empty.txt", lambda p: p.write_bytes(b""), "empty file"),
    ("blank.md", lambda p: p.write_bytes(b" \n\n\t\n"), "empty file"),
    ("huge.txt", lambda p: _sparse(p, 200 << 20), "too large (200 MB, limit 100 MB)"),
    ("program.exe", lambda p: p.write_bytes(b"MZ\x90\x00" * 10), "not a document Hearth reads"),
    ("fake.docx", lambda p: p.write_bytes(b"just text"), "truncated or damaged (not a DOCX inside)"),
    ("word97.doc", lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600),
     "not a document Hearth reads (an old Office format: save it as .docx or .odt)"),
])
def test_a_bad_file_is_refused_with_its_reason(tmp_path, name, make, reason):
    path = tmp_path / name
    make(path)
    with pytest.raises(UnreadableDocument) as caught:
        extract(path)
    assert caught.value.reason == reason


def test_an_encrypted_pdf_with_no_user_password_opens(tmp_path):
    """Locked only against editing (an empty user password): readers open it without asking, so do we."""
    (tmp_path / "owner.pdf").write_bytes(docs_files.pdf_bytes([["open to all readers"]], encrypt=""))
    assert "open to all readers" in extract(tmp_path / "owner.pdf").text


def test_a_zip_bomb_docx_is_refused_before_it_is_inflated(tmp_path):
    bomb = docs_files.docx(tmp_path / "bomb.docx", {"word/media/pad.bin": b"\0" * (40 << 20)})
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(UnreadableDocument, match=r"^refused: a zip bomb \(word/media/pad.bin inflates \d+ times\)$"):
        extract(bomb)
    many = docs_files.docx(tmp_path / "many.docx", {f"customXml/{n}.xml": b"<a/>" for n in range(60)})
    with pytest.raises(UnreadableDocument, match=r"^refused: a zip bomb \(\d+ members, limit 50\)$"):
        extract(many, Limits(max_zip_members=50))
    with pytest.raises(UnreadableDocument, match=r"^refused: a zip bomb \(\d+ MB unzipped, limit 0 MB\)$"):
        extract(many, Limits(max_unzipped_bytes=10_000))


def test_xml_entities_in_a_docx_are_refused(tmp_path):
    laughs = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
              b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p>'
              b'<w:r><w:t>&b;</w:t></w:r></w:p></w:body></w:document>')
    path = docs_files.docx(tmp_path / "laughs.docx", {"word/document.xml": laughs})
    with pytest.raises(UnreadableDocument, match=r"^refused: word/document.xml declares XML entities$"):
        extract(path)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableDocument, match="^not a regular file"):
        extract(fifo)


def test_a_folder_of_everything_gives_the_good_ones_and_the_bad_ones_with_reasons(tmp_path):
    tmp_path = tmp_path / "documents"
    tmp_path.mkdir()
    (tmp_path / "a.txt").write_text("Alpha.", encoding="utf-8")
    docs_files.docx(tmp_path / "b.docx")
    (tmp_path / "c.pdf").write_bytes(docs_files.pdf_bytes([["gamma"]])[:-40])
    (tmp_path / "d.pdf").write_bytes(docs_files.pdf_bytes([["delta"]], encrypt="pw"))
    (tmp_path / "e.txt").write_bytes(b"")
    _sparse(tmp_path / "f.txt", 200 << 20)
    docs_files.odt(tmp_path / "g.odt")
    docs_files.epub(tmp_path / "h.epub")
    docs_files.docx(tmp_path / "i.docx", {"word/media/pad.bin": b"\0" * (40 << 20)})
    (tmp_path / "j.md").write_text("# J\n\nJay.", encoding="utf-8")
    (tmp_path / "k.html").write_text("<h1>K</h1><p>Kay.</p>", encoding="utf-8")
    (tmp_path / "l.pdf").write_bytes(docs_files.pdf_bytes([["el"], ["em"]]))
    results = list(extract_many(sorted(tmp_path.iterdir())))
    good = {r.path.name: r.kind for r in results if isinstance(r, Document)}
    bad = {r.path.name: r.reason for r in results if isinstance(r, Skipped)}
    assert good == {"a.txt": "text", "b.docx": "docx", "g.odt": "odt", "h.epub": "epub", "j.md": "markdown",
                    "k.html": "html", "l.pdf": "pdf"}
    assert bad["c.pdf"].startswith("truncated or damaged")
    assert bad["d.pdf"] == "encrypted PDF (password needed)"
    assert bad["e.txt"] == "empty file"
    assert bad["f.txt"] == "too large (200 MB, limit 100 MB)"
    assert bad["i.docx"].startswith("refused: a zip bomb")
    assert len(results) == 12


def test_chunks_split_a_long_paragraph_at_sentences_with_overlap(tmp_path):
    sentences = [f"Sentence number {n} is about the sea." for n in range(40)]
    (tmp_path / "long.txt").write_text("Short opening.\n\n" + " ".join(sentences) + "\n\nClosing words.",
                                       encoding="utf-8")
    doc = extract(tmp_path / "long.txt")
    chunks = _check_places(doc, budget=40, overlap=8)
    assert chunks[0].text.startswith("Short opening.")
    middle = [c for c in chunks if "Sentence number 20 " in c.text]
    assert middle and all(c.text.rstrip().endswith(".") for c in chunks[:-1]), "cut at sentence ends"
    pairs = zip(chunks, chunks[1:], strict=False)
    assert all(after.start < before.end for before, after in pairs), "each overlaps the last"
    assert all(doc.text[after.start].isalnum() for after in chunks[1:]), "the overlap starts at a word"


def test_chunks_never_overlap_across_sections_and_take_the_callers_token_count(tmp_path):
    (tmp_path / "two.md").write_text("# One\n\n" + "alpha " * 300 + "\n\n# Two\n\n" + "beta " * 300,
                                     encoding="utf-8")
    doc = extract(tmp_path / "two.md")
    chunks = chunk(doc, budget_tokens=100, overlap_tokens=10, count=len)  # characters as tokens
    assert all(len(c.text) <= 100 and doc.text[c.start:c.end] == c.text for c in chunks)
    first_two = next(c for c in chunks if c.heading_path == ("Two",))
    assert "alpha" not in first_two.text and "One" not in first_two.text
    unbroken = "x" * 5000  # no spaces at all: halved until it fits
    (tmp_path / "run.txt").write_text(unbroken, encoding="utf-8")
    _check_places(extract(tmp_path / "run.txt"), budget=50, overlap=5)


def test_a_heading_with_only_sub_headings_under_it_is_no_passage_of_its_own(tmp_path):
    """'# Field sensors' then '## Soil moisture': the Documents pane showed a passage reading only
    "Field sensors", found for that word alone; the sub-sections carry it in their heading paths."""
    (tmp_path / "f.md").write_text("# Field sensors\n\n## Soil moisture\n\nProbes report every ten minutes.\n\n"
                                   "# Last words\n", encoding="utf-8")
    chunks = chunk(extract(tmp_path / "f.md"))
    assert [c.text for c in chunks] == ["Soil moisture\n\nProbes report every ten minutes.", "Last words"]
    assert chunks[0].heading_path == ("Field sensors", "Soil moisture")
    assert [c.index for c in chunks] == [0, 1]


@pytest.mark.slow
def test_a_hundred_page_pdf_extracts_and_chunks_in_reasonable_time(tmp_path):
    page = [f"Paragraph line {n}: the harbour master logged ships, tides and the weather." for n in range(45)]
    (tmp_path / "hundred.pdf").write_bytes(docs_files.pdf_bytes([page] * 100))
    began = time.monotonic()
    doc = extract(tmp_path / "hundred.pdf")
    extracted = time.monotonic() - began
    chunks = chunk(doc)
    print(f"\n100-page PDF: {len(doc.text)} characters extracted in {extracted:.2f} s, "
          f"{len(chunks)} chunks in {time.monotonic() - began - extracted:.2f} s")
    assert [s.page for s in doc.sections] == list(range(1, 101))
    assert extracted < 60  # a hang or a page-by-page quadratic walk would be minutes
