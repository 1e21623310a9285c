"""Plain-text rendering of an `Answer` for terminals (the CLI's output)."""

from __future__ import annotations

from assistant import Answer


def format_sources(answer: Answer) -> str:
    """A numbered source list: cited papers with their quoted span, the "may also be
    relevant" papers marked as such, then the rest considered."""
    lines = []
    quotes: dict[int, list[str]] = {}
    for c in answer.citations:
        where = c.location()
        quotes.setdefault(c.n, []).append(c.quote + (f"  ({where})" if where else ""))
    for s in answer.sources:
        if s.tier == "second":
            mark = "  (may also be relevant: uncertain match, not cited as an answer)"
        else:
            mark = "" if s.relevant else "  (considered, not cited)"
        credit = f" ({s.byline})" if s.byline else ""
        lines.append(f"[{s.n}] {s.title}{credit}  (score {s.score:.2f}){mark}")
        for q in quotes.get(s.n, [])[:3]:
            lines.append(f'     "{q[:200]}"')
    return "\n".join(lines)
