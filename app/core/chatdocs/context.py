"""Attached documents into the prompt: whole when they fit the room the model's context leaves, else the
passages that best match the question, numbered [1], [2]… with their file and place, for the reply to cite.

The room is the context less what the engine keeps for the reply (as ChatEngine._fit does), less the
conversation's own words, with a margin for the cheap token estimate. Passages are ranked by keywords
(BM25 over the chunks, as FTS5 ranks) and, when an embedder is given, by meaning too, the two fused by
reciprocal rank (app.core.docs.fusion).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from app.core.chat.documents import DocumentError, DocumentStore, file_name
from app.core.chat.engine import SamplingParams
from app.core.chat.history import ChatHistory, DocumentRef, StoredMessage
from app.core.chat.protocol import ChatEngineProtocol
from app.core.chat.session import conversation_messages
from app.core.chat.templates import Message
from app.core.chatdocs.prepare import read_document
from app.core.docs.chunks import Chunk, chunk, estimate_tokens
from app.core.docs.fusion import WORD, embed_as, rrf
from app.core.docs.model import Document, UnreadableDocument

log = logging.getLogger(__name__)

UNKNOWN_CONTEXT = 8192  # a server that keeps its own context (n_ctx 0): assume a common size
MARGIN = 0.85  # the token estimate is a guess: leave this share of the room, at most
PER_MESSAGE = 8  # template tokens around each message
PASSAGE_TOKENS = 200
PASSAGE_OVERLAP = 24
# Words a question is made of but that say nothing of what it asks (English; other languages keep all words).
_STOP_WORDS = """a about an and any are as at be been by can could did do does for from had has have how i if in
into is it its me my no not of on or our shall should so than that the their them then there these they this to
was we were what when where which who whom why will with would you your"""
STOP = frozenset(_STOP_WORDS.split())
CITE = ("Passages from the attached {what} that match the question follow, numbered. Answer from them and "
        "cite the ones you use by their number, like [1].")


@dataclass(frozen=True)
class Passage:
    number: int
    name: str  # the document's file name
    place: str  # "page 3", "Install > Linux", or ""
    text: str

    def label(self) -> str:
        return f"[{self.number}] {self.name}" + (f", {self.place}" if self.place else "")


@dataclass(frozen=True)
class DocumentContext:
    text: str  # what goes before the user's words
    whole: bool  # every document whole; else passages
    passages: tuple[Passage, ...]
    tokens: int  # its estimated size


def room(n_ctx: int, max_tokens: int, used_tokens: int) -> int:
    """Tokens left for documents: the context less the reply's share (as the engine keeps it), less what
    the conversation already takes, with a margin for the estimate."""
    n_ctx = n_ctx or UNKNOWN_CONTEXT
    reply = max(16, min(max_tokens, n_ctx // 2))
    return max(0, int((n_ctx - reply) * MARGIN) - used_tokens)


def whole_block(name: str, text: str) -> str:
    return f"Attached document: {name}\n-----\n{text}\n-----"


def build(documents: Sequence[tuple[str, Document]], question: str, budget: int,
          embedder=None) -> DocumentContext:
    """Documents for one message: whole when all fit ``budget`` tokens, else the best passages that fit."""
    blocks = [whole_block(name, doc.text) for name, doc in documents]
    whole = "\n\n".join(blocks)
    cost = estimate_tokens(whole)
    if cost <= budget:
        return DocumentContext(whole, True, (), cost)
    passages = choose(documents, question, budget, embedder)
    names = ", ".join(name for name, _ in documents)
    if not passages:
        note = f"(The attached {names} did not fit the model's context; none of it is included.)"
        return DocumentContext(note, False, (), estimate_tokens(note))
    what = "document " + names if len(documents) == 1 else "documents " + names
    text = CITE.format(what=what) + "\n\n" + "\n\n".join(f"{p.label()}\n{p.text}" for p in passages)
    return DocumentContext(text, False, tuple(passages), estimate_tokens(text))


def choose(documents: Sequence[tuple[str, Document]], question: str, budget: int, embedder=None) -> list[Passage]:
    """The passages that best match the question and fit ``budget`` tokens, numbered best first."""
    pieces: list[tuple[str, Chunk]] = [(name, c) for name, doc in documents
                                       for c in chunk(doc, PASSAGE_TOKENS, PASSAGE_OVERLAP)]
    if not pieces:
        return []
    texts = [c.text for _, c in pieces]
    if embedder is not None and question.strip():
        # As the Documents index fuses them: keywords narrow to the passages that hold every word (a name,
        # a part number), meaning ranks them all. Passages holding any one word would outvote meaning.
        rankings = [keyword_ranking(texts, question, every_word=True), vector_ranking(texts, question, embedder)]
    else:
        rankings = [keyword_ranking(texts, question)]
    ranked = [i for i, _ in rrf([r for r in rankings if r])] or list(range(len(pieces)))  # no match: in order
    spent = estimate_tokens(CITE)
    out: list[Passage] = []
    for i in ranked:
        name, c = pieces[i]
        passage = Passage(len(out) + 1, name, _place(c), c.text)
        cost = estimate_tokens(passage.label() + "\n" + c.text) + 2
        if spent + cost > budget:
            continue  # a smaller one further down may still fit
        out.append(passage)
        spent += cost
    return out


def keyword_ranking(texts: list[str], question: str, every_word: bool = False,
                    k1: float = 1.2, b: float = 0.75) -> list[int]:
    """Indexes of the texts that hold any of the question's words (``every_word``: all of them), best first
    (BM25, as FTS5 scores); words like "the" and "where" do not count."""
    words = {w.lower() for w in WORD.findall(question)}
    terms = (words - STOP) or words
    if not terms:
        return []
    docs = [Counter(w.lower() for w in WORD.findall(t)) for t in texts]
    if every_word:
        docs = [d if terms <= d.keys() else Counter() for d in docs]
    lengths = [sum(d.values()) for d in docs]
    average = sum(lengths) / len(docs) or 1.0
    scores: list[tuple[float, int]] = []
    for term in terms:
        df = sum(1 for d in docs if term in d)
        if not df:
            continue
        idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        for i, d in enumerate(docs):
            if term in d:
                tf = d[term]
                scores.append((idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[i] / average)), i))
    total: dict[int, float] = {}
    for score, i in scores:
        total[i] = total.get(i, 0.0) + score
    return sorted(total, key=lambda i: (-total[i], i))


def vector_ranking(texts: list[str], question: str, embedder) -> list[int]:
    """Indexes of the texts, nearest in meaning to the question first (the embedder's vectors are unit length)."""
    import numpy as np

    vectors = np.asarray(embed_as(embedder, texts, "documents"), dtype=np.float32)
    query = np.asarray(embed_as(embedder, [question], "queries")[0], dtype=np.float32)
    return [int(i) for i in np.argsort(-(vectors @ query), kind="stable")]


def _place(c: Chunk) -> str:
    parts = [f"page {c.page}"] if c.page is not None else []
    if c.heading_path:
        parts.append(" > ".join(c.heading_path))
    return ", ".join(parts)


@lru_cache(maxsize=4)  # a turn reads the same few documents again; each may be large
def _extracted(sha256: str, kind: str) -> Document:
    data = DocumentStore().read(sha256)  # checked against its hash as it is read
    return read_document(data, file_name(sha256, kind))


def load(refs: Sequence[DocumentRef]) -> tuple[list[tuple[str, Document]], list[str]]:
    """The documents' text, and a note for each that cannot be read now (a file gone or changed)."""
    docs, notes = [], []
    for ref in refs:
        try:
            docs.append((ref.name, _extracted(ref.sha256, ref.kind)))
        except DocumentError as exc:
            log.warning("chat document %s not put in the prompt: %s", ref.name, exc)
            notes.append(f"(The attached {ref.name} could not be read: {exc})")
        except UnreadableDocument as exc:
            log.warning("chat document %s not put in the prompt: %s", ref.name, exc.reason)
            notes.append(f"(The attached {ref.name} could not be read: {exc.reason})")
    return docs, notes


def compose(history: ChatHistory, conversation_id: int, engine: ChatEngineProtocol, params: SamplingParams,
            embedder=None) -> list[Message]:
    """The prompt's messages, each message's documents before its words: the newest message's documents
    are given room first, older ones what is left (session.run_turn's ``compose``)."""
    stored = history.messages(conversation_id)
    with_documents = [m for m in stored if m.documents]
    if not with_documents:
        return conversation_messages(history, conversation_id)
    system = history.conversation(conversation_id).system_prompt
    used = estimate_tokens(system) + sum(estimate_tokens(m.content) + PER_MESSAGE for m in stored)
    budget = room(engine.n_ctx, params.max_tokens, used)
    latest = next((m.content for m in reversed(stored) if m.role == "user"), "")
    texts: dict[int, str] = {}
    for m in reversed(with_documents):
        docs, notes = load(m.documents)
        # An earlier message's documents answer the question asked now too (a follow-up about them).
        question = m.content if latest == m.content else f"{m.content}\n{latest}"
        context = build(docs, question, budget, embedder) if docs else None
        if context is not None:
            budget = max(0, budget - context.tokens)
            log.info("chat documents for message %s: %s, about %d tokens", m.id,
                     "whole" if context.whole else f"{len(context.passages)} passages", context.tokens)
        texts[m.id] = "\n\n".join([*notes, *([context.text] if context else [])])
    return conversation_messages(history, conversation_id, content=_with(texts))


def _with(texts: dict[int, str]) -> Callable[[StoredMessage], str]:
    def content(m: StoredMessage) -> str:
        extra = texts.get(m.id)
        return f"{extra}\n\n{m.content}" if extra else m.content

    return content
