"""Sentences with offsets, and chunks sized for the embedding model.

Chunks come from llama-index's `SentenceSplitter` over the abstract, measured in the
embedding model's own word pieces; the title is prepended to every chunk so each chunk
stands on its own, and each keeps the character span of the abstract it covers.
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.text import split_sentences
from assistant.types import Chunk, Paper, Sentence


def paper_sentences(paper: Paper) -> list[Sentence]:
    return [
        Sentence(paper.id, i, s, e, paper.abstract[s:e])
        for i, (s, e) in enumerate(split_sentences(paper.abstract))
    ]


class Chunker:
    """Splits a paper into title-prefixed chunks that fit the embedding model."""

    def __init__(self, count_tokens: Callable[[str], int], tokenize: Callable[[str], list[int]],
                 chunk_size: int, chunk_overlap: int, max_tokens: int):
        self.count_tokens = count_tokens
        self.tokenize = tokenize
        self.chunk_size = min(chunk_size, max_tokens - 2)  # [CLS] and [SEP]
        self.chunk_overlap = chunk_overlap

    def title_prefix(self, paper: Paper) -> str:
        return paper.title + "\n"

    def chunks(self, paper: Paper) -> list[Chunk]:
        from llama_index.core import Document
        from llama_index.core.node_parser import SentenceSplitter

        prefix = self.title_prefix(paper)
        budget = max(32, self.chunk_size - self.count_tokens(prefix))
        splitter = SentenceSplitter(
            chunk_size=budget,
            chunk_overlap=min(self.chunk_overlap, budget // 4),
            tokenizer=self.tokenize,
            include_metadata=False,
            include_prev_next_rel=False,
        )
        nodes = splitter.get_nodes_from_documents([Document(text=paper.abstract)])
        out: list[Chunk] = []
        cursor = 0
        for node in nodes:
            body = node.get_content()
            start = node.start_char_idx
            if start is None or paper.abstract[start : start + len(body)] != body:
                start = paper.abstract.find(body, max(0, cursor - len(body)))
            if start < 0:  # the splitter rewrote whitespace; fall back to a token-free search
                start = cursor
            end = start + len(body)
            cursor = end
            out.append(Chunk(paper.id, len(out), prefix + body, start, end))
        if not out:
            out.append(Chunk(paper.id, 0, prefix + paper.abstract, 0, len(paper.abstract)))
        return out


def sentence_spans_in_chunks(
    chunks: list[Chunk], sentences: list[Sentence], prefix_len: int
) -> tuple[list[list[tuple[int, int]]], list[tuple[int, int]]]:
    """Assign each sentence to the chunk that holds most of it.

    Returns, per chunk, the sentence spans in that chunk's text coordinates, and per
    sentence its (chunk index, position in that chunk's span list).
    """
    per_chunk: list[list[tuple[int, int]]] = [[] for _ in chunks]
    where: list[tuple[int, int]] = []
    for s in sentences:
        best, best_overlap = 0, -1
        for ci, ch in enumerate(chunks):
            overlap = min(s.end, ch.end) - max(s.start, ch.start)
            if overlap > best_overlap:
                best, best_overlap = ci, overlap
        ch = chunks[best]
        a = max(s.start, ch.start) - ch.start + prefix_len
        b = min(s.end, ch.end) - ch.start + prefix_len
        where.append((best, len(per_chunk[best])))
        per_chunk[best].append((a, max(a, b)))
    return per_chunk, where
