"""The wire form of paperlens' values: what ``to_dict()`` returns, ready for JSON."""

from __future__ import annotations

import dataclasses
from typing import Any


class Wire:
    """A dataclass with a wire form: each field, nested values in their own wire form (so a
    value that adds to its form, as `Credited` does, adds to it wherever it is nested)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of this value."""
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        return {f.name: _wire(getattr(self, f.name)) for f in fields}


def _wire(value: Any) -> Any:
    if isinstance(value, Wire):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return type(value)(_wire(v) for v in value)
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    return value
