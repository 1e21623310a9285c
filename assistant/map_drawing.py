"""Drawing the library map: a PNG for the CLI and inline SVG for the web UI.

The map itself (topics, labels, layout) is built in `assistant.library_map`; this module
only draws a `LibraryMap`, with one colour per topic shared by both outputs.
"""

from __future__ import annotations

from collections.abc import Iterable
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
        from .errors import ConfigError

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
        for t, (x, y) in zip(m.topics, _centres(m), strict=True):
            ax.annotate(
                t.label,
                (x, y),
                fontsize=8,
                ha="center",
                va="center",
                color="black",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": colour(t.id), "alpha": 0.8},
            )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{len(m.paper_ids)} papers, {len(m.topics)} topics")
        fig.tight_layout()
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
    title as a ``<title>`` (the hover text), topic labels at the topics' centres, and the
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
    for t, (x, y) in zip(m.topics, _centres(m), strict=True):
        cx, cy = at(x, y)
        # Labels let the pointer through: a point under a label stays hoverable and clickable.
        parts.append(
            f'<text class="pl-topic" x="{cx:.1f}" y="{cy:.1f}" text-anchor="middle" '
            'pointer-events="none" '
            f'font-size="12" stroke="white" stroke-width="3" paint-order="stroke" '
            f'fill="{colour(t.id)}">{_esc(t.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
