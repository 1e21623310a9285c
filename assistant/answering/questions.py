"""What kind of question this is, and which papers it names.

"Which papers study X?" (list), "What does paper P say about Y?" (single), "How do A
and B differ?" (comparison), author/venue/year questions (metadata) and short
follow-ups are answered differently; this module decides which, by rules a user can
read, not by a model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..core.errors import InvalidQuestionError
from ..core.types import Paper, QuestionKind

MAX_QUESTION_CHARS = 2000
# The bundled default; a multilingual model set in its place gets no language notice.
ENGLISH_ONLY_MODEL = "all-MiniLM-L6-v2"

# Venues a question may name ("papers at NeurIPS"): such a question asks for metadata.
VENUES = ("neurips", "icml", "iclr", "acl", "emnlp", "cvpr", "aaai")
_METADATA = re.compile(
    r"\b(who\s+(wrote|authored|are\s+the\s+authors|is\s+the\s+author|developed|proposed)|"
    # "the authors of X", "X's authors?", "authors from": not "what do the authors define".
    r"authors?\b(?=\s*(of|from|and|list|names?)\b|\s*[?.,;]|\s*$)|(which|what)\s+authors?\b|"
    r"author(ed)?\s+by|written\s+by|venue|conference|journal|workshop|published\s+(in|at|by)|"
    r"publication\s+(year|date|venue)|what\s+year|which\s+year|when\s+was\b.*\b(published|released|written)|"
    r"(from|in|since|before|after)\s+(19|20)\d\d\b|affiliat\w*|institution|universit(y|ies)|"
    + "|".join(VENUES)
    + ")",
    re.IGNORECASE,
)
# "written by" / "authored by" asks for a paper's authors unless what did the writing is
# a system the question is about: "the code written by LLMs" is a topic question.
_MACHINE_AUTHOR = re.compile(
    r"\s*(an?\s+|the\s+|large\s+)*"
    r"(llms?|(large\s+)?language\s+models?|models?|ai|machines?|chatgpt|gpt[\w.-]*|chatbots?|"
    r"agents?|computers?|programs?|generators?|neural\s+networks?)"
    r"(?![\w+-])(?!\s+(team|group|lab|authors?|researchers?)\b)",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(19|20)\d\d\b")
_COMPARISON = re.compile(
    r"\b(compare|compares|comparison\s+(of|between)|differ(s|ence|ences|ent)?|versus|vs\.?|contrast|similarit(y|ies)|"
    r"in\s+common)\b",
    re.IGNORECASE,
)
# Without a named paper, a comparison is known by the question's form: it opens by asking
# how things differ or compare ("How do the two CVaR papers differ?", "Compare ...").
# A comparison word inside a described problem ("papers that compare voting and scoring",
# "the favoured versus the rejected answer") asks for papers, like any topic question.
_COMPARISON_FORM = re.compile(
    r"^\s*(?:(?:how|in\s+what\s+ways?|where)\b[^?.:;]*?\b(?:differ\w*|compare[sd]?|contrast\w*)\b|"
    r"(?:compare|contrast)\b|what\s*(?:'s|\s+is|\s+are)\s+the\s+(?:main\s+|key\s+)?"
    r"(?:differences?|similarit(?:y|ies))\b)",
    re.IGNORECASE,
)
_LIST = re.compile(
    r"\b(which|what)\s+(papers|works|articles|studies|methods|approaches)\b|\bpapers\s+(on|about)\b|"
    # "Which speculative decoding papers ...": a few words of topic before the plural.
    r"\b(which|what)\s+(?:[\w+-]+\s+){1,4}(papers|works|articles|studies)\b|"
    # "a paper on X" asks for papers; "the Greedy-DiM paper about face morphs" names one.
    r"\b(a|any|some)\s+paper\s+(on|about)\b|"
    r"\bany\s+papers?\b|\blist\b",
    re.IGNORECASE,
)
_FOLLOW_UP = re.compile(
    r"^\s*(and|also|but|so|what\s+about|how\s+about)\b|\b(of\s+(those|these|them)|those|these|them|they|"
    r"the\s+same|the\s+above|the\s+first|the\s+second|the\s+last|this\s+one|that\s+one)\b",
    re.IGNORECASE,
)
_NARROW = re.compile(
    r"\b(of\s+(those|these|them)|among\s+(those|these|them)|which\s+one)\b", re.IGNORECASE
)
# A question for a detail: an interrogative, after at most a leading phrase ("In the
# Qwen2 report, for how many epochs ...?", "According to X, why ...?").
_FACT = re.compile(
    r"^\s*(?:(?:in|for|according\s+to|when|after|during|on|with|using|under)\b[^?]{0,160}?,\s*)?"
    r"(?:what|how|which|who|whom|whose|when|where|why|at\s+what|to\s+what|by\s+how|"
    r"on\s+which|in\s+which|in\s+what|for\s+how|for\s+what|from\s+which|with\s+what)\b",
    re.IGNORECASE,
)
_MIN_NAME = 4
# "the layer-adaptive weight pruning paper": a phrase of one paper's title, then "paper".
_TITLE_PHRASE = re.compile(r"\bthe\s+([\w'+-]+(?:\s+[\w'+-]+){1,7})\s+paper\b", re.IGNORECASE)
# Names a paper gives its method in the abstract: "we present LLAMBO", "(MOREC)".
_DEFINED = re.compile(
    r"\b(?:propose|proposes|present|presents|introduce|introduces|develop|develops|build|builds|"
    r"design|designs|release|releases|called|dubbed|named|termed)\s+"
    r"(?:a\s+|an\s+|the\s+)?(?:novel\s+|new\s+)?([A-Z][\w+-]*[A-Z0-9+][\w+-]*)"
    r"|\(([A-Z][\w+-]*[A-Z0-9][\w+-]*)\)"
)


def _norm(text: str) -> str:
    return " " + re.sub(r"[\W_]+", " ", text.casefold()).strip() + " "


@dataclass(frozen=True)
class NamedPaper:
    paper_id: str
    name: str
    start: int
    end: int


class PaperNames:
    """Finds papers named in a question: by title, by the short name before a colon, by a
    name the abstract gives its system, or as "the <words of one title> paper"."""

    def __init__(self, papers: Iterable[Paper]):
        self.exact: list[tuple[str, str]] = []  # (normalised name, paper id)
        self.short: list[tuple[re.Pattern[str], str, str]] = []  # case-sensitive short names
        self.titles: list[tuple[str, str]] = []  # (normalised title, paper id)
        papers = list(papers)
        defined: dict[str, set[str]] = {}
        for p in papers:
            for m in _DEFINED.finditer(p.abstract):
                name = (m.group(1) or m.group(2)).rstrip("-")
                if 3 <= len(name) <= 20 and sum(c.isupper() for c in name) >= 2:
                    defined.setdefault(name, set()).add(p.id)
        mentions: dict[str, int] = {}
        for p in papers:
            for word in set(re.findall(r"[\w+-]+", p.title + " " + p.abstract)) & defined.keys():
                mentions[word] = mentions.get(word, 0) + 1
        for name, ids in defined.items():
            # Only names that one paper defines and no other paper uses: "(LLM)" or
            # "(GPUs)" name a field or a thing, not a paper.
            if len(ids) == 1 and mentions.get(name, 0) <= 1:
                pattern = re.compile(r"(?<![\w-])" + re.escape(name) + r"(?!\w)")
                self.short.append((pattern, name, next(iter(ids))))
        for p in papers:
            title = re.sub(r"\$[^$]*\$", lambda m: m.group(0).strip("$"), p.title)
            self.exact.append((_norm(title), p.id))
            self.titles.append((_norm(title), p.id))
            head = title.split(":", 1)[0].strip() if ":" in title else ""
            if head and len(head.split()) <= 6:
                if len(head.split()) > 1 and len(_norm(head).strip()) >= _MIN_NAME:
                    self.exact.append((_norm(head), p.id))
                elif any(c.isupper() or c.isdigit() for c in head[1:]) or len(head) >= 8:
                    # One-word names ("LiPO", "SpecDec++") match with their own casing,
                    # so a name like "STEP" does not fire on the word "step".
                    pattern = re.compile(r"(?<![\w-])" + re.escape(head) + r"(?!\w)")
                    self.short.append((pattern, head, p.id))

    def find(self, question: str) -> list[NamedPaper]:
        """Papers named in ``question``, in order of mention, longest match wins."""
        q = _norm(question)
        found: list[NamedPaper] = []
        for name, pid in self.exact:
            pos = q.find(name)
            while pos >= 0:
                found.append(NamedPaper(pid, name.strip(), pos, pos + len(name)))
                pos = q.find(name, pos + 1)
        for pattern, head, pid in self.short:
            if pattern.search(question):
                # Positions in the normalised text, for overlap resolution.
                name = _norm(head)
                pos = q.find(name)
                while pos >= 0:
                    found.append(NamedPaper(pid, head, pos, pos + len(name)))
                    pos = q.find(name, pos + 1)
        found += self._title_phrases(question, q)
        found.sort(key=lambda n: (n.start, -(n.end - n.start)))
        kept: list[NamedPaper] = []
        for n in found:
            # "Step-DPO" inside "Full-Step-DPO" is not a mention of Step-DPO.
            inside = any(
                o.start <= n.start and n.end <= o.end and (o.end - o.start) > (n.end - n.start)
                for o in found
            )
            if not inside and all(k.paper_id != n.paper_id for k in kept):
                kept.append(n)
        return kept

    def _title_phrases(self, question: str, q: str) -> list[NamedPaper]:
        """Papers a question calls "the <words of its title> paper", when the words (two
        or more, in order) are in exactly one title: "the generalized Polyak step size
        paper" names "Generalized Polyak Step Size for First Order Optimization ..."."""
        found = []
        for m in _TITLE_PHRASE.finditer(question):
            words = m.group(1).split()
            # The longest tail of the phrase that one title holds: "the CVaR RL paper" may
            # carry words of the question's own before the title's.
            for i in range(len(words) - 1):
                phrase = _norm(" ".join(words[i:]))
                ids = {pid for title, pid in self.titles if phrase in title}
                if len(ids) == 1:
                    pos = q.find(phrase)
                    found.append(NamedPaper(ids.pop(), phrase.strip(), pos, pos + len(phrase)))
                    break
                if ids:
                    break  # several titles hold it: no name, not a shorter one either
        return found


@dataclass(frozen=True)
class QuestionInfo:
    kind: QuestionKind
    named: tuple[NamedPaper, ...]
    follow_up: bool
    narrow: bool
    years: tuple[int, ...]
    # Asks for a detail ("what batch size ...?", "how many ...?"), not for papers: in a
    # library of full texts it is answered from the paper that states it (plan.py).
    fact: bool = False

    @property
    def named_ids(self) -> list[str]:
        return [n.paper_id for n in self.named]


def _asks_metadata(question: str) -> bool:
    """Whether ``question`` asks for authors, venue, year or affiliation.

    A "written by" / "authored by" whose writer is a model or program ("how efficient the
    code written by LLMs is") is about that system, not about who wrote a paper.
    """
    for m in _METADATA.finditer(question):
        text = m.group(0).casefold()
        by_machine = _MACHINE_AUTHOR.match(question, m.end())
        if text.startswith(("written", "author")) and text.endswith("by") and by_machine:
            continue
        return True
    return False


def classify(question: str, names: PaperNames, *, has_history: bool = False) -> QuestionInfo:
    """Decide the kind of ``question`` (list, single, comparison, metadata)."""
    named = tuple(names.find(question))
    years = tuple(int(m.group(0)) for m in _YEAR.finditer(question))
    follow_up = has_history and bool(_FOLLOW_UP.search(question)) and len(question.split()) <= 16
    narrow = follow_up and bool(_NARROW.search(question))
    kind: QuestionKind
    if _asks_metadata(question):
        kind = "metadata"
    elif _COMPARISON.search(question) and (
        len(named) >= 2
        or (not _LIST.search(question) and (bool(named) or bool(_COMPARISON_FORM.match(question))))
    ):
        kind = "comparison"
    elif len(named) == 1 and not _LIST.search(question):
        kind = "single"
    else:
        kind = "list"
    fact = kind == "list" and not _LIST.search(question) and bool(_FACT.match(question))
    return QuestionInfo(kind, named, follow_up, narrow, years, fact)


# -- language: the bundled embedding model reads English only, so a question in another
# language deserves a word instead of a bare "no paper". A cheap rule, no model: a
# question mostly in a non-Latin script (Chinese, Russian, Arabic...), or one with more
# function words of German, French, Spanish, Italian or Portuguese than of English.
# Only words that are not also English words (no "die", "was", "a", "in", "per") are listed.
_FOREIGN_TEXT = """
    der das und ist sind welche welcher welches wie nicht mit für über eine einer einen
    einem dem auf werden wird sich von bei oder auch durch zwischen untersuchen gibt
    diese dieser wir ich nach sie zur zum im vom beim
    le la les des une est sont quels quelles quel quelle qui sur pour dans avec du et que
    comment pourquoi étudient entre ces cette leur leurs pas aux au nous vous ils elles
    el los las es qué cuáles cuál sobre para con del y cómo por estudian artículos son al
    lo se su sus este esta estos estas
    il di che gli della delle quali sono os das dos em não quais são
"""  # German; French; Spanish; Italian and Portuguese
_ENGLISH_TEXT = """
    the of and to in is are which what how do does did papers paper for with on that this
    by from about use used using study studies between or a an their it be can who when
    where why there any all than
"""
_FOREIGN_WORDS = frozenset(_FOREIGN_TEXT.split())
_ENGLISH_WORDS = frozenset(_ENGLISH_TEXT.split())
_WORD = re.compile(r"[^\W\d_]+")
_ET_AL = re.compile(r"\bet\s+al\b")


def looks_english(question: str) -> bool:
    """Whether ``question`` reads as English (True also when it cannot tell).

    Example:
        >>> looks_english("Which papers study speculative decoding?")
        True
        >>> looks_english("Welche Arbeiten untersuchen spekulatives Dekodieren?")
        False
        >>> looks_english("哪些论文研究推测解码？")
        False
    """
    letters = [c for c in question if c.isalpha()]
    if not letters:
        return True
    # Letters outside Latin (basic, Latin-1, Extended-A/B): Greek symbols in an English
    # question ("the α-divergence") stay a small share.
    if sum(ord(c) > 0x24F for c in letters) > 0.3 * len(letters):
        return False
    # "et al." is English prose's Latin, and "Du et al." holds two French words.
    words = _WORD.findall(_ET_AL.sub(" ", question.casefold()))
    foreign = sum(w in _FOREIGN_WORDS for w in words)
    # Accented Latin letters (é, ü, ñ, ç) add one vote, not more: English questions name
    # Schrödinger and Poincaré too.
    foreign += any(0xC0 <= ord(c) <= 0x24F for c in letters)
    english = sum(w in _ENGLISH_WORDS for w in words)
    return not (foreign >= 2 and foreign > english)


def clean_question(question: str, model: str) -> tuple[str, list[str]]:
    """The question as asked, whitespace collapsed and cut to `MAX_QUESTION_CHARS`, with the
    notices to show about it (cut; not English for an English-only embedding ``model``).

    Raises:
        InvalidQuestionError: the question is not a string.
    """
    if not isinstance(question, str):  # bytes, None, a number: say so, not AttributeError
        got = "None" if question is None else type(question).__name__
        raise InvalidQuestionError(
            f"The question must be text (str), got {got} - pass a string, e.g. "
            'ask("Which papers study speculative decoding?").'
        )
    notices = []
    question = " ".join(question.split())
    if len(question) > MAX_QUESTION_CHARS:
        notices.append(f"The question was cut to its first {MAX_QUESTION_CHARS} characters.")
        question = question[:MAX_QUESTION_CHARS]
    english_only = model == ENGLISH_ONLY_MODEL
    if question and english_only and not looks_english(question):
        notices.append(
            "This question does not look like English: the embedding model "
            f"({ENGLISH_ONLY_MODEL}) reads English only, so papers may be missed - ask in "
            "English, or set PAPERLENS_EMBEDDING__MODEL to a multilingual model."
        )
    return question, notices
