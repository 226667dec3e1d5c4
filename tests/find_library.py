"""A small real library for the one search's tests: documents indexed with the starter embedder, two
transcripts saved through the transcripts store, tiny-CLIP photos indexed, and chats in the history.
Needs the ``starter_store`` and ``clip_store`` fixtures (this test's HEARTH_HOME)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.core.speech.transcriber import Segment

DOCS = {
    "bikes.md": "# Bicycle care\n\nOil the chain every month and check the tyre pressure before each ride. "
                "Replace worn brake pads early.",
    "taxes.txt": "Submit the annual income tax return before the end of April. Keep receipts for deductions "
                 "for at least six years.",
    "bread.txt": "Mix flour, water and starter, let the dough rise overnight, then bake it in a hot oven for "
                 "forty minutes.",
}
PARAPHRASE = ("maintaining my bike so it rides well", "bikes.md")

# Each line about fifteen words: the meeting's transcript is three passages, the kayak in the second.
MEETING = [
    (0.0, 6.5, "Good morning everyone, thank you for joining the planning call for the summer schedule today."),
    (6.5, 12.0, "First item is the budget for the office move, which finance approved last Thursday afternoon."),
    (12.0, 18.0, "We also need new chairs and two desks for the corner room before the move happens."),
    (18.0, 24.5, "Last point on the move: the van is booked and the keys arrive on Monday morning."),
    (24.5, 31.0, "Now the lake trip: we agreed to rent a red kayak and two paddles for Saturday."),
    (31.0, 37.5, "Maria will bring life jackets, and the kayak rental shop opens at eight in the morning."),
    (37.5, 43.0, "If it rains we move the paddling to Sunday and have lunch at the boathouse instead."),
    (43.0, 49.0, "That is all for today, the notes will be sent out by email before the weekend."),
    (49.0, 55.0, "Please reply to the notes if anything is missing, and thanks again for your time."),
]
SPOKEN = "rent a red kayak"  # words said in the meeting, between 24.5 s and 31 s
COOKING = [(0.0, 5.0, "Chop the onions finely and fry them slowly in butter until they turn golden brown.")]


@dataclass
class Library:
    docs: Path
    photos: dict[str, list[Path]]
    meeting_id: str
    cooking_id: str
    chats: dict[str, int] = field(default_factory=dict)  # name -> conversation id


def save_transcript(source: str, lines) -> str:
    from app.core.speech.transcripts import TranscriptStore

    store = TranscriptStore()
    t = store.new(source)
    t.status = "done"
    t.segments = [Segment(a, b, text) for a, b, text in lines]
    store.save(t)
    return t.id


def build(root: Path, photos: bool = True) -> Library:
    from app.core.chat.history import ChatHistory
    from app.core.docs.index import DocsIndex, DocSummary
    from app.core.opening import open_embedder
    from tests.helpers import photo_library

    docs = root / "docs"
    docs.mkdir(parents=True)
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    embedder = open_embedder(None, device="cpu")
    index = DocsIndex()
    try:
        index.add_folder(docs)
        summary = [x for x in index.index(embedder) if isinstance(x, DocSummary)][0]
        assert summary.indexed == len(DOCS), summary
    finally:
        index.close()
        embedder.close()
    library = {}
    if photos:
        from app.core.images.index import ImageIndex, IndexSummary
        from app.core.opening import open_encoder

        library = photo_library(root / "photos", per_class=3)
        encoder, key = open_encoder(None)
        images = ImageIndex()
        try:
            images.add_folder(root / "photos")
            assert [x for x in images.index(encoder, key) if isinstance(x, IndexSummary)][0].embedded
        finally:
            images.close()
    lib = Library(docs, library, save_transcript("meeting.wav", MEETING), save_transcript("Dictation", COOKING))
    history = ChatHistory()
    try:
        garden = history.create("Garden plans")
        history.add_message(garden.id, "user", "Which vegetables grow well in a shady allotment?")
        history.add_message(garden.id, "assistant", "Lettuce, spinach and kale cope with the shade of a hedge.")
        other = history.create("Holiday")
        history.add_message(other.id, "user", "Find me a cheap train to Edinburgh in August.")
        lib.chats = {"garden": garden.id, "holiday": other.id}
    finally:
        history.close()
    return lib
