"""Sentences with offsets, and chunks sized for the embedding model.

Chunks come from llama-index's `SentenceSplitter` over the abstract, measured in the
embedding model's own word pieces; the title is prepended to every chunk so each chunk
stands on its own, and each keeps the character span of the abstract it covers.
A full-text paper (a PDF) then gets chunks of each body section: a heading always starts
a new chunk, which is prefixed with the title and heading and carries the section, the
page it starts on and the page breaks within it (references never reach here: the PDF
reader drops them).
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.core.types import Chunk, Paper, Sentence
from assistant.text.sentences import split_sentences


def paper_sentences(paper: Paper) -> list[Sentence]:
    return [
        Sentence(paper.id, i, s, e, paper.abstract[s:e])
        for i, (s, e) in enumerate(split_sentences(paper.abstract))
    ]


class Chunker:
    """Splits a paper into title-prefixed chunks that fit the embedding model."""

    def __init__(
        self,
        count_tokens: Callable[[str], int],
        tokenize: Callable[[str], list[int]],
        chunk_size: int,
        chunk_overlap: int,
        max_tokens: int,
    ):
        self.count_tokens = count_tokens
        self.tokenize = tokenize
        self.chunk_size = min(chunk_size, max_tokens - 2)  # [CLS] and [SEP]
        self.chunk_overlap = chunk_overlap

    def title_prefix(self, paper: Paper) -> str:
        return paper.title + "\n"

    def chunks(self, paper: Paper) -> list[Chunk]:
        prefix = self.title_prefix(paper)
        out: list[Chunk] = []
        for body, start, end in self._split(paper.abstract, prefix):
            out.append(Chunk(paper.id, len(out), prefix + body, start, end))
        if not out:
            out.append(Chunk(paper.id, 0, prefix + paper.abstract, 0, len(paper.abstract)))
        for section in paper.sections:
            head = f"{prefix}{section.heading}\n" if section.heading else prefix
            for body, start, end in self._split(section.text, head):
                # Page breaks within the body: a sentence after one is on the later page.
                breaks = tuple((o - start, n) for o, n in section.pages if start < o < end)
                out.append(
                    Chunk(
                        paper.id,
                        len(out),
                        head + body,
                        start,
                        end,
                        section=section.heading or None,
                        page=section.page_at(start),
                        pages=breaks,
                    )
                )
        return out

    def _split(self, text: str, prefix: str) -> list[tuple[str, int, int]]:
        """Pieces of ``text`` that fit the model after ``prefix``, with their spans."""
        from llama_index.core import Document
        from llama_index.core.node_parser import SentenceSplitter

        if not text.strip():
            return []
        budget = max(32, self.chunk_size - self.count_tokens(prefix))
        splitter = SentenceSplitter(
            chunk_size=budget,
            chunk_overlap=min(self.chunk_overlap, budget // 4),
            tokenizer=self.tokenize,
            include_metadata=False,
            include_prev_next_rel=False,
        )
        nodes = splitter.get_nodes_from_documents([Document(text=text)])
        out = []
        cursor = 0
        for node in nodes:
            body = node.get_content()
            start = getattr(node, "start_char_idx", None)  # TextNode; BaseNode lacks it
            if start is None or text[start : start + len(body)] != body:
                start = text.find(body, max(0, cursor - len(body)))
            if start < 0:  # the splitter rewrote whitespace; fall back to a token-free search
                start = cursor
            end = start + len(body)
            cursor = end
            out.append((body, start, end))
        return out


def sentence_spans_in_chunks(
    chunks: list[Chunk], sentences: list[Sentence], prefix_len: int
) -> tuple[list[list[tuple[int, int]]], list[tuple[int, int]]]:
    """Assign each (abstract) sentence to the abstract chunk that holds most of it.

    Returns, per chunk, the sentence spans in that chunk's text coordinates, and per
    sentence its (chunk index, position in that chunk's span list).
    """
    per_chunk: list[list[tuple[int, int]]] = [[] for _ in chunks]
    where: list[tuple[int, int]] = []
    for s in sentences:
        best, best_overlap = 0, -1
        for ci, ch in enumerate(chunks):
            if ch.section is not None or ch.page is not None:
                continue  # full-text chunks: their spans are in a section, not the abstract
            overlap = min(s.end, ch.end) - max(s.start, ch.start)
            if overlap > best_overlap:
                best, best_overlap = ci, overlap
        ch = chunks[best]
        a = max(s.start, ch.start) - ch.start + prefix_len
        b = min(s.end, ch.end) - ch.start + prefix_len
        where.append((best, len(per_chunk[best])))
        per_chunk[best].append((a, max(a, b)))
    return per_chunk, where
