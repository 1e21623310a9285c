"""Keeping a figure out of the running text of a page.

A chart drawn in the PDF puts its tick labels, axis titles and caption into the text layer
where the figure sits, often between the last line of one column and the first of the
next, which would split the sentence running across the column break ("...and exhibit
0 0.5 1 1.5 ... Figure 1: ... complex interactions"). Tick labels (lines without a word)
and the larger or smaller labels that follow them are dropped; a caption ("Figure 1:",
"Fig. 2.", "Table 3:") is kept but moved after the sentence it interrupted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .pdf_lines import Line

_CAPTION = re.compile(r"^(?:fig(?:ure)?\.?|table)\s*\d+[a-z]?\s*[:.|]", re.I)
_WORD = re.compile(r"[^\W\d_]{3,}")


def _debris(line: Line) -> bool:
    """A tick label or number row: no word of three letters or more."""
    return not _WORD.search(line.text)


def _tick_runs(lines: Sequence[Line], least: int = 3) -> set[int]:
    """Indices of the lines in runs of ``least`` or more wordless lines."""
    out: set[int] = set()
    run: list[int] = []
    for i, line in enumerate([*lines, None]):
        if line is not None and _debris(line):
            run.append(i)
            continue
        if len(run) >= least:
            out.update(run)
        run = []
    return out


def _off_body(line: Line, body: float) -> bool:
    return body > 0 and abs(line.size - body) > body * 0.1


def without_figures(lines: Sequence[Line], body: float) -> list[Line]:
    """``lines`` with figure labels dropped and captions moved past the sentence they
    interrupt (see the module docstring)."""
    out: list[Line] = []
    pending: list[Line] = []  # caption lines waiting for the sentence to end
    caption: Line | None = None  # the caption's last line, while it goes on
    in_figure = False
    ticks = _tick_runs(lines)
    for i, line in enumerate(lines):
        if _CAPTION.match(line.text):
            pending.append(line)
            caption, in_figure = line, False
            continue
        if caption is not None:
            gap = (caption.y - line.y) if caption.y is not None and line.y is not None else 0
            if abs(line.size - caption.size) < 0.3 and 0 < gap <= caption.size * 1.6:
                pending.append(line)
                caption = line
                continue
            caption = None
        if i in ticks:
            in_figure = True
            continue
        if in_figure and _off_body(line, body):
            continue
        in_figure = False
        out.append(line)
        if pending and line.text.rstrip().endswith((".", "?", "!")):
            out.extend(pending)
            pending = []
    return out + pending
