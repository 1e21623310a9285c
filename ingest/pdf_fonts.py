"""Repairing one known broken text layer: Type 3 fonts whose ToUnicode map says dingbats.

dvips bitmap fonts converted by Ghostscript name their glyphs ``/a<code>`` (``/a101`` for
the glyph at code 101). Ghostscript then reads those names as ZapfDingbats glyph names
and writes a ToUnicode map that sends every letter to a dingbat: "Penalized" extracts as
"P❡♥❛❧✐③❡❞" (seen in R vignettes built with dvips). The codes themselves are the TeX T1
(Cork) font encoding, so for such a font the map is rewritten to read each code as that
character (ASCII, with T1's ligature slots as ff/fi/fl/ffi/ffl).
"""

from __future__ import annotations

import re
from typing import Any

# T1 (Cork) encoding slots below 0x20 that text uses; the rest of 0x20-0x7e is ASCII.
_T1_LOW = {
    0x15: "\u2013",
    0x16: "\u2014",
    0x1B: "ff",
    0x1C: "fi",
    0x1D: "fl",
    0x1E: "ffi",
    0x1F: "ffl",
}
_GLYPH = re.compile(r"^/a(\d{1,3})$")


def _dingbat_share(cmap: bytes) -> float:
    """The share of a ToUnicode map's targets in the dingbat/symbol blocks."""
    targets = [
        int(t, 16)
        for t in re.findall(
            rb"<[0-9a-fA-F]{2}>\s*<[0-9a-fA-F]{2}>\s*"
            rb"<([0-9a-fA-F]{4})>",
            cmap,
        )
    ]
    targets += [int(t, 16) for t in re.findall(rb"<[0-9a-fA-F]{2}>\s*<([0-9a-fA-F]{4})>", cmap)]
    if not targets:
        return 0.0
    return sum(0x2460 <= t <= 0x27BF for t in targets) / len(targets)


def _cmap(codes: list[int]) -> bytes:
    entries = []
    for code in codes:
        text = _T1_LOW.get(code) or (chr(code) if 0x20 <= code <= 0x7E else "")
        if text:
            entries.append(f"<{code:02x}> <{text.encode('utf-16-be').hex()}>")
    body = "\n".join(
        f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar"
        for chunk in (entries[i : i + 100] for i in range(0, len(entries), 100))
    )
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CMapType 2 def\n"
        "1 begincodespacerange\n<00><ff>\nendcodespacerange\n"
        f"{body}\nendcmap\nCMapName currentdict /CMap defineresource pop\nend end\n"
    ).encode("ascii")


def _codes(font: Any) -> list[int] | None:
    """The codes of a font whose glyphs are all named ``/a<code>``, else None."""
    encoding: Any = font.get("/Encoding")
    encoding = encoding.get_object() if encoding is not None else None
    differences = encoding.get("/Differences") if isinstance(encoding, dict) else None
    if not differences:
        return None
    codes, code = [], 0
    for item in differences:
        if isinstance(item, int):
            code = int(item)
            continue
        match = _GLYPH.match(str(item))
        if not match or int(match.group(1)) != code:
            return None
        codes.append(code)
        code += 1
    return codes or None


def repair_fonts(page: Any) -> int:
    """Rewrite the ToUnicode map of each such font of ``page`` (pypdf page), in memory;
    returns how many fonts were repaired."""
    from pypdf.generic import DecodedStreamObject, NameObject

    try:
        fonts = page["/Resources"].get_object()["/Font"].get_object()
    except (KeyError, TypeError, AttributeError):
        return 0
    repaired = 0
    for ref in fonts.values():
        font = ref.get_object()
        if font.get("/Subtype") != "/Type3" or "/ToUnicode" not in font:
            continue
        codes = _codes(font)
        if codes is None:
            continue
        try:
            data = font["/ToUnicode"].get_object().get_data()
        except Exception:  # an unreadable map stays as it is
            continue
        if _dingbat_share(data) < 0.5:
            continue
        stream = DecodedStreamObject()
        stream.set_data(_cmap(codes))
        font[NameObject("/ToUnicode")] = stream
        repaired += 1
    return repaired
