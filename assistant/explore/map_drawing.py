"""Drawing the library map: a PNG for the CLI and inline SVG for the web UI.

The map itself (topics, labels, layout) is built in `assistant.explore.library_map`; this module
only draws a `LibraryMap`, with one colour per topic shared by both outputs, and places
the topic labels so that none covers another (`place_labels`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .library_map import LibraryMap

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
    "#6baed6",
    "#fd8d3c",
    "#74c476",
    "#9e9ac8",
)


def colour(topic: int) -> str:
    """The colour of a topic (the same in the PNG and the UI)."""
    return PALETTE[topic % len(PALETTE)]


# A label's box, estimated without a font at hand: wide enough for the sans-serif fonts a
# browser may pick (DejaVu Sans, a wide one and Linux's default, needs at most 0.53 font
# sizes per character of the bundled map's labels), a line tall, and a margin for the halo.
CHAR_WIDTH = 0.62
LINE_HEIGHT = 1.25
LABEL_PAD = 2.0
# How far from its topic's centre a label may move, in label heights and label widths.
MAX_RISE = 3.0
MAX_SHIFT = 0.5

Box = tuple[float, float, float, float]  # left, top, right, bottom


@dataclass(frozen=True)
class PlacedLabel:
    """A topic label where it is drawn: ``text`` centred at (``x``, ``y``) in ``box``."""

    index: int  # position of the label in the input of `place_labels`
    text: str
    x: float
    y: float
    box: Box


def label_box(text: str, x: float, y: float, font_size: float = 12) -> Box:
    """The space a label centred at (``x``, ``y``) takes, estimated conservatively."""
    half_w = len(text) * CHAR_WIDTH * font_size / 2 + LABEL_PAD
    half_h = LINE_HEIGHT * font_size / 2 + LABEL_PAD
    return (x - half_w, y - half_h, x + half_w, y + half_h)


def boxes_overlap(a: Box, b: Box) -> bool:
    """Whether two boxes share any area (touching edges do not)."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(
    labels: Sequence[tuple[Sequence[str], float, float]],
    width: float,
    height: float,
    *,
    font_size: float = 12,
) -> list[PlacedLabel]:
    """Where to draw each label so that no two overlap, inside a ``width`` x ``height`` box.

    ``labels`` are (terms, x, y): a label's terms and its topic's centre, the most
    important first (they are placed greedily in that order). A label goes at its centre,
    else at the nearest free spot up to `MAX_RISE` label heights above or below and
    `MAX_SHIFT` label widths aside; when none is free its last term is dropped and the
    shorter label tried again; a label with no room even for one term is left out.

    Example:
        >>> both = [(["speculative decoding"], 100, 50), (["draft models"], 100, 50)]
        >>> [(p.text, p.y) for p in place_labels(both, 200, 100)]
        [('speculative decoding', 50.0), ('draft models', 31.0)]
    """
    placed: list[PlacedLabel] = []
    for i, (terms, x, y) in enumerate(labels):
        for n in range(len(terms), 0, -1):
            text = " · ".join(terms[:n])
            spot = _free_spot(text, x, y, [p.box for p in placed], width, height, font_size)
            if spot is not None:
                placed.append(PlacedLabel(i, text, *spot))
                break
    return placed


def _free_spot(
    text: str,
    x: float,
    y: float,
    taken: list[Box],
    width: float,
    height: float,
    font_size: float,
) -> tuple[float, float, Box] | None:
    """The free spot nearest (``x``, ``y``) for ``text``, kept inside the picture."""
    left, top, right, bottom = label_box(text, 0, 0, font_size)
    w, h = right - left, bottom - top
    if w > width or h > height:
        return None
    rises = [k * h / 2 for k in range(-int(2 * MAX_RISE), int(2 * MAX_RISE) + 1)]
    shifts = [k * w / 4 for k in range(-int(4 * MAX_SHIFT), int(4 * MAX_SHIFT) + 1)]
    # Nearest first; at equal distance up before down and left before right.
    for dx, dy in sorted(((dx, dy) for dx in shifts for dy in rises), key=_distance):
        cx = min(max(x + dx, w / 2), width - w / 2)  # moved inside the picture
        cy = min(max(y + dy, h / 2), height - h / 2)
        box = label_box(text, cx, cy, font_size)
        if not any(boxes_overlap(box, b) for b in taken):
            return cx, cy, box
    return None


def _distance(offset: tuple[float, float]) -> tuple[float, float, float]:
    return math.hypot(*offset), offset[1], offset[0]


def _placed(
    m: LibraryMap,
    anchors: Sequence[tuple[float, float]],
    width: float,
    height: float,
    *,
    font_size: float,
) -> list[PlacedLabel]:
    """The topics' labels placed around their ``anchors``, the largest topics first; each
    placed label's ``index`` is its topic's id."""
    order = sorted(range(len(m.topics)), key=lambda i: -len(m.topics[i].paper_ids))
    wanted = [(m.topics[i].terms or (m.topics[i].label,), *anchors[i]) for i in order]
    placed = place_labels(wanted, width, height, font_size=font_size)
    return [PlacedLabel(m.topics[order[p.index]].id, p.text, p.x, p.y, p.box) for p in placed]


def _centres(m: LibraryMap) -> list[tuple[float, float]]:
    out = []
    topic_of = np.asarray(m.topic_of)
    for t in m.topics:
        pts = m.xy[topic_of == t.id]
        out.append(
            (float(np.median(pts[:, 0])), float(np.median(pts[:, 1]))) if len(pts) else (0.0, 0.0)
        )
    return out


def render_png(
    m: LibraryMap, out: str | Path, highlight: Iterable[str] = (), *, dpi: int = 110
) -> Path:
    """Draw the map to a PNG file (matplotlib, no display needed); returns the path.

    Papers in ``highlight`` are drawn larger with a black ring.
    """
    try:
        import matplotlib
    except ImportError as exc:  # a base dependency: missing only from a partial install
        from ..core.errors import ConfigError

        raise ConfigError("drawing the map needs matplotlib - pip install matplotlib") from exc

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = Path(out)
    marked = set(highlight)
    fig, ax = plt.subplots(figsize=(11, 8), dpi=dpi)
    try:
        colours = [colour(c) for c in m.topic_of]
        ax.scatter(m.xy[:, 0], m.xy[:, 1], c=colours, s=14, alpha=0.75, linewidths=0)
        rows = [i for i, pid in enumerate(m.paper_ids) if pid in marked]
        if rows:
            ax.scatter(
                m.xy[rows, 0],
                m.xy[rows, 1],
                c=[colours[i] for i in rows],
                s=70,
                edgecolors="black",
                linewidths=1.5,
                zorder=3,
            )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{len(m.paper_ids)} papers, {len(m.topics)} topics")
        fig.tight_layout()
        # Labels are placed in pixels, from the top left of the axes, once the layout is final.
        (x0, y0), (x1, y1) = ax.get_window_extent().get_points()
        pixels = ax.transData.transform(np.asarray(_centres(m)).reshape(-1, 2))
        wanted = [(float(x - x0), float(y1 - y)) for x, y in pixels]
        to_data = ax.transData.inverted().transform
        for p in _placed(m, wanted, x1 - x0, y1 - y0, font_size=8 * dpi / 72):
            x, y = to_data((x0 + p.x, y1 - p.y))
            ax.annotate(
                p.text,
                (float(x), float(y)),
                fontsize=8,
                ha="center",
                va="center",
                color="black",
                bbox={
                    "boxstyle": "round,pad=0.15",
                    "fc": "white",
                    "ec": colour(p.index),
                    "alpha": 0.8,
                },
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
    finally:
        plt.close(fig)
    return out


def _esc(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def render_svg(
    m: LibraryMap, highlight: Iterable[str] = (), *, width: int = 900, height: int = 600
) -> str:
    """The map as inline SVG for the UI: one ``<circle data-paper=ID>`` per paper with its
    title as a ``<title>`` (the hover text), topic labels (``<text class="pl-topic"
    data-topic=ID>``) at or near the topics' centres without overlapping, and the
    ``highlight`` papers drawn larger with a dark ring (class ``pl-hl``)."""
    marked = set(highlight)
    pad = 40

    def at(x: float, y: float) -> tuple[float, float]:
        return pad + (x + 1) / 2 * (width - 2 * pad), pad + (1 - (y + 1) / 2) * (height - 2 * pad)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="pl-map-svg" role="img" aria-label="map of {len(m.paper_ids)} papers">'
    ]
    later: list[str] = []
    for pid, title, (x, y), c in zip(m.paper_ids, m.titles, m.xy, m.topic_of, strict=True):
        cx, cy = at(float(x), float(y))
        hl = pid in marked
        look = 'r="7" stroke="#111" stroke-width="2"' if hl else 'r="4" fill-opacity="0.75"'
        circle = (
            f'<circle class="pl-pt{" pl-hl" if hl else ""}" data-paper="{_esc(pid)}" '
            f'cx="{cx:.1f}" cy="{cy:.1f}" {look} fill="{colour(c)}">'
            f"<title>{_esc(title)} — {_esc(m.topics[c].label)}</title></circle>"
        )
        (later if hl else parts).append(circle)
    parts += later  # highlighted papers drawn last, on top
    for p in _placed(m, [at(x, y) for x, y in _centres(m)], width, height, font_size=12):
        # Labels let the pointer through: a point under a label stays hoverable and clickable.
        parts.append(
            f'<text class="pl-topic" data-topic="{p.index}" x="{p.x:.1f}" y="{p.y:.1f}" '
            'text-anchor="middle" dominant-baseline="central" pointer-events="none" '
            f'font-size="12" stroke="white" stroke-width="3" paint-order="stroke" '
            f'fill="{colour(p.index)}">{_esc(p.text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
