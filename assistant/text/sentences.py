"""Sentence splitting with exact character offsets, shared by ingest and verification."""

from __future__ import annotations

import re

# Abbreviations after which a period does not end a sentence.
_ABBREV = {
    "e.g",
    "i.e",
    "etc",
    "vs",
    "al",
    "fig",
    "figs",
    "eq",
    "eqs",
    "cf",
    "approx",
    "resp",
    "sec",
    "no",
    "dr",
    "mr",
    "ms",
    "prof",
    "inc",
    "ca",
    "viz",
    "w.r.t",
    "a.k.a",
}
_BOUNDARY = re.compile(r"[.!?](?:[\"')\]]*)\s+(?=[\"'(\[$]?[A-Z0-9])")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (whitespace trimmed)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.start() + 1
        word = re.search(r"([\w.]+)\.?$", text[start:end])
        token = (word.group(1) if word else "").lower().rstrip(".")
        # "e.g." / "et al." / single initials ("J. Smith") / decimals are not sentence ends.
        if token in _ABBREV or (len(token) == 1 and token.isalpha()):
            continue
        spans.append((start, end))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out
