"""Check every sentence of an answer against the sources it cites (or could cite).

Support of a claim by a source = the best, over the source's sentences (and title), of
``cos_weight * cosine + (1 - cos_weight) * term coverage`` (the share of the claim's
content terms the source sentence contains). A number in the claim that the source
does not contain caps the support under the threshold: offline scorers tell the right
paper from a wrong one well, but not a faithful sentence from a misread one, so exact
checks (numbers) are added where they exist. This is *citation relevance*, not
faithfulness (see evals/CALIBRATION.md).

What happens to each sentence:
- a sentence unrelated to the question (cosine with it under `RELEVANCE_FLOOR`) is
  dropped, whatever supports it: verified means supported *and* on the question;
- cited sources that support it (`CITE_THRESHOLD`) keep their ``[n]`` (verified);
- cited numbers out of range, or sources that do not support it, are removed;
- a sentence left with no citation gets the best source's ``[n]`` only at the stricter
  `ATTRIBUTION_THRESHOLD`: pinning a claim on a paper the answerer did not name needs
  more evidence than confirming one it did;
- a sentence nothing supports is dropped from the text and reported as unsupported.

Text flagged as addressed to a model (`Paper.injected`) supports nothing: a source's
sentences come from the snapshot without it (`quotable_sentences`); its title and the text
read for facts leave it out here.
The thresholds come from evals/CITATION_CALIBRATION.md (tuning split of the corpus pairs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.types import Citation, Paper, Sentence
from ..index.embeddings import Embedder
from ..text.injection import is_injected
from ..text.sentences import split_sentences
from ..text.terms import terms

# A citation marker, "[3]" or "[1, 4]", its numbers in group 1: the one definition for the
# verifier, the eval's claim parser and the web UI's links.
CITATION_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_MARKER = re.compile(r"\s*" + CITATION_MARKER.pattern)  # removed with the space before it
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*%?")
_ANY_MARKER = re.compile(r"\[[^\]]{0,12}\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*" + CITATION_MARKER.pattern + ")+")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((\S+?)\)")
# Chosen on the tuning half of the corpus pairs (evals/CITATION_CALIBRATION.md): an explicit
# [n] passes where at most 2% of closest-wrong-abstract pairs do; post-hoc attribution where
# no wrong-abstract pair of any kind does; relevance under every relevant paper's best sentence.
CITE_THRESHOLD = 0.57
ATTRIBUTION_THRESHOLD = 0.77
RELEVANCE_FLOOR = 0.15
_URL = re.compile(r"https?://\S+|www\.\S+|\b[\w-]+\.(?:com|org|net|io|edu)\S*")


def cited_numbers(text: str) -> list[int]:
    """The source numbers that the citation markers of ``text`` cite, in order.

    Example:
        >>> cited_numbers("A claim [2]. Another [1, 3].")
        [2, 1, 3]
    """
    return [
        int(x) for m in CITATION_MARKER.finditer(text) for x in re.split(r"\s*,\s*", m.group(1))
    ]


@dataclass(frozen=True)
class SourceText:
    """A numbered source as the answer may cite it."""

    n: int
    paper: Paper
    sentences: Sequence[Sentence]  # as the snapshot gives them: none flagged


@dataclass
class Checked:
    """The verified answer: text with checked markers, citations, and what was dropped."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    removed_markers: list[str] = field(default_factory=list)
    off_question: list[str] = field(default_factory=list)  # also in ``unsupported``
    attributed: int = 0
    claims: int = 0

    @property
    def supported(self) -> int:
        return self.claims - len(self.unsupported)


def numbers(text: str) -> set[str]:
    """The figures ``text`` states ("12.5", "3", "40%" read as "40"), thousands separators
    dropped: a claim's numbers must appear in the source that supports it."""
    return {n.rstrip("%").replace(",", "") for n in _NUMBER.findall(text)}


def exact_facts(text: str) -> set[str]:
    """What a source must contain verbatim to support a claim: numbers and links."""
    return numbers(_URL.sub(" ", text)) | {u.rstrip(".,;)") for u in _URL.findall(text)}


class Verifier:
    """Scores claims against sources; thresholds come from the eval calibration."""

    def __init__(
        self,
        embedder: Embedder,
        threshold: float = CITE_THRESHOLD,
        cos_weight: float = 0.6,
        attribution_threshold: float = ATTRIBUTION_THRESHOLD,
        relevance_floor: float = RELEVANCE_FLOOR,
    ):
        self.embedder = embedder
        self.threshold = threshold
        self.cos_weight = cos_weight
        self.attribution_threshold = max(attribution_threshold, threshold)
        self.relevance_floor = relevance_floor

    def support(
        self,
        claims: Sequence[str],
        sources: Sequence[SourceText],
        claim_vectors: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list[list[Sentence | None]]]:
        """Support of each claim by each source, and the best sentence of each source."""
        n_c, n_s = len(claims), len(sources)
        scores = np.zeros((n_c, n_s), dtype=np.float32)
        best: list[list[Sentence | None]] = [[None] * n_s for _ in range(n_c)]
        if not n_c or not n_s:
            return scores, best
        units: list[tuple[int, Sentence | None, str]] = []
        for j, src in enumerate(sources):
            # A title is the paper's stored text, not one of the snapshot's sentences.
            if not is_injected(src.paper.title, src.paper):
                units.append((j, None, src.paper.title))
            units.extend((j, s, s.text) for s in src.sentences)
        if not units:
            return scores, best
        if claim_vectors is None:
            vecs = self.embedder.encode([*claims, *(u[2] for u in units)])
            cvec, uvec = vecs[:n_c], vecs[n_c:]
        else:
            cvec, uvec = claim_vectors, self.embedder.encode([u[2] for u in units])
        cos = cvec @ uvec.T
        claim_terms = [set(terms(c)) for c in claims]
        unit_terms = [set(terms(u[2])) for u in units]
        src_facts = [
            exact_facts(" ".join((_evidence(s.paper), s.paper.url or ""))) for s in sources
        ]
        for i in range(n_c):
            ct = claim_terms[i]
            facts = exact_facts(claims[i])
            for k, (j, sent, _) in enumerate(units):
                cover = len(ct & unit_terms[k]) / len(ct) if ct else 0.0
                value = self.cos_weight * float(cos[i, k]) + (1 - self.cos_weight) * cover
                if value > scores[i, j]:
                    scores[i, j] = value
                    best[i][j] = sent
            for j in range(n_s):
                if facts - src_facts[j]:
                    # A number or link the source never states: not supported, however similar.
                    scores[i, j] = min(scores[i, j], self.threshold - 0.01)
        return scores, best

    def _relevance(
        self, claim_texts: list[str], asked: list[str]
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """The claims' vectors (None without a question) and each claim's best cosine with
        the questions asked (1.0 each without a question)."""
        if not (asked and claim_texts):
            return None, np.ones(len(claim_texts), dtype=np.float32)
        vecs = self.embedder.encode([*claim_texts, *asked])
        n = len(claim_texts)
        return vecs[:n], (vecs[:n] @ vecs[n:].T).max(axis=1)

    def _kept(
        self,
        claim: str,
        cited: list[int],
        scores: np.ndarray,
        by_n: dict[int, int],
        sources: Sequence[SourceText],
        out: Checked,
    ) -> list[int]:
        """The sources that keep their [n] on ``claim`` (``scores``: its support by each
        source); removed markers are noted in ``out``. An uncited claim is attributed to the
        best source only at the stricter attribution threshold."""
        keep: list[int] = []
        for n in cited:
            j = by_n.get(n)
            if j is None:
                out.removed_markers.append(f"[{n}] is not a source of this answer")
            elif scores[j] >= self.threshold:
                keep.append(n)
            else:
                out.removed_markers.append(
                    f"[{n}] does not support: {claim[:80]!r} (support {scores[j]:.2f})"
                )
        if not keep and len(sources):
            j = int(np.argmax(scores))
            if scores[j] >= self.attribution_threshold:
                keep.append(sources[j].n)
                out.attributed += 1
        return keep

    def check(
        self,
        answer: str,
        sources: Sequence[SourceText],
        question: str | Sequence[str] | None = None,
    ) -> Checked:
        """Verify ``answer`` against numbered ``sources`` (see the module docstring).

        With ``question``, a sentence unrelated to it is dropped even where a source states
        it. A follow-up passes the questions it follows too: a sentence on any of them is on
        the conversation ("how do they compare?" says nothing of its topic by itself).
        """
        asked = [question] if isinstance(question, str) else list(question or ())
        by_n = {s.n: j for j, s in enumerate(sources)}
        pieces = claims(answer)
        claim_texts = [c for c, _ in pieces]
        claim_vectors, relevance = self._relevance(claim_texts, asked)
        scores, best = self.support(claim_texts, sources, claim_vectors)
        out = Checked(text="")
        lines: list[str] = []
        cites: dict[tuple[int, int], Citation] = {}
        for i, (claim, cited) in enumerate(pieces):
            if claim.endswith(":") and len(terms(claim)) < 8 and not cited:
                lines.append(claim)  # a lead-in ("Two papers address this:") states nothing
                continue
            out.claims += 1
            if relevance[i] < self.relevance_floor:
                out.off_question.append(claim)
                out.unsupported.append(claim)
                continue
            keep = self._kept(claim, cited, scores[i], by_n, sources, out)
            if not keep:
                out.unsupported.append(claim)
                continue
            keep = sorted(dict.fromkeys(keep))
            for n in keep:
                j = by_n[n]
                sent = best[i][j]
                paper = sources[j].paper
                quote, start, end = (
                    (sent.text, sent.start, sent.end) if sent else (paper.title, 0, 0)
                )
                key = (n, start)
                if key not in cites or cites[key].support < float(scores[i, j]):
                    support = round(float(scores[i, j]), 3)
                    cites[key] = Citation(
                        n, paper.id, paper.title, quote, start, end, True, support
                    )
            lines.append(claim + " " + "".join(f"[{n}]" for n in keep))
        out.text = " ".join(lines).strip()
        out.citations = sorted(cites.values(), key=lambda c: (c.n, c.start))
        return out


def _evidence(paper: Paper) -> str:
    """Title and abstract without the sentences flagged as addressed to a model."""
    text = paper.title + " " + paper.abstract
    for sentence in paper.injected:
        text = text.replace(sentence, " ")
    return text


def claims(answer: str) -> list[tuple[str, list[int]]]:
    """The sentences of an answer, markers removed, with the source numbers each one cites
    (a marker that opens a sentence belongs to the one before it)."""
    pieces: list[tuple[str, list[int]]] = []
    for line in answer.split("\n"):
        line = line.strip().lstrip("-*•").strip()
        if not line:
            continue
        for s, e in split_sentences(line):
            sentence = _MD_LINK.sub(r"\1 (\2)", line[s:e])
            lead = _LEADING_MARKERS.match(sentence)
            if lead and pieces:
                # "First claim. [1] Second claim." - the splitter cut before "[1]", which
                # belongs to the sentence before it.
                pieces[-1][1].extend(int(x) for x in re.findall(r"\d+", lead.group(0)))
                sentence = sentence[lead.end() :]
            cited = cited_numbers(sentence)
            text = _ANY_MARKER.sub("", _MARKER.sub("", sentence)).strip()
            text = re.sub(r"\s+([.,;:!?])", r"\1", text)
            if not re.search(r"[^\W\d_]", text):
                if pieces and cited:  # "... sentence. [2]" - the marker belongs to the previous one
                    pieces[-1][1].extend(cited)
                continue
            pieces.append((text, cited))
    return pieces
