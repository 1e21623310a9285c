"""Prompts are data files (``prompts/*.yaml``) with declared, checked placeholders.

The files live in the checkout's top-level ``prompts/`` folder and are installed as the
package data ``assistant.prompt_files`` (pyproject maps one to the other), so they load the
same way from a checkout, an editable install or a wheel.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from ..core.errors import PromptError
from ..text.injection import escape_for_prompt

PROMPTS_PACKAGE = "assistant.prompt_files"


@dataclass(frozen=True)
class Prompt:
    """A system and a user template sharing one set of declared placeholders; those the
    file lists as ``trusted`` are inserted as they are, every other one escaped."""

    name: str
    placeholders: frozenset[str]
    system: Any
    user: Any
    trusted: frozenset[str] = frozenset()

    def render(self, **values: Any) -> list[dict[str, str]]:
        """Chat messages for ``values``; unknown or missing placeholders raise `PromptError`.

        Every string inside a value (a question, a paper's title in a list of dicts) is
        escaped (`escape_for_prompt`) so that no inserted text can open or close the
        prompt's ``<source>`` delimiters, unless its placeholder is trusted.
        """
        given = set(values)
        if given != self.placeholders:
            missing = sorted(self.placeholders - given)
            extra = sorted(given - self.placeholders)
            raise PromptError(
                f"prompt {self.name!r}: missing placeholders {missing}, unknown {extra}"
            )
        import jinja2

        values = {k: v if k in self.trusted else _escaped(v) for k, v in values.items()}
        try:
            return [
                {"role": "system", "content": self.system.render(**values).strip()},
                {"role": "user", "content": self.user.render(**values).strip()},
            ]
        except jinja2.UndefinedError as exc:
            raise PromptError(f"prompt {self.name!r}: {exc}") from exc


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return escape_for_prompt(value)
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escaped(v) for v in value]
    return value


@functools.lru_cache(maxsize=16)
def load_prompt(name: str, directory: Path | None = None) -> Prompt:
    """Load ``<name>.yaml`` and check its placeholders against its templates.

    Args:
        name: the prompt's file name without ``.yaml``, e.g. ``"answer"``.
        directory: a folder of prompt files; default the installed ``prompts/``.
    """
    import jinja2
    import jinja2.meta
    import yaml

    try:
        folder: Path | Traversable = files(PROMPTS_PACKAGE) if directory is None else directory
    except ModuleNotFoundError as exc:  # an install made before the prompts were package data
        raise PromptError(
            f"the prompt files ({PROMPTS_PACKAGE}) are not installed - reinstall paperlens "
            "(pip install -e . in a checkout)"
        ) from exc
    path = folder.joinpath(f"{name}.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PromptError(
            f"prompt file {path} is missing - restore it from the paperlens sources "
            "(prompts/) and reinstall"
        ) from exc
    except yaml.YAMLError as exc:
        raise PromptError(f"prompt file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not {"placeholders", "system", "user"} <= set(data):
        raise PromptError(f"prompt file {path} needs 'placeholders', 'system' and 'user' keys")
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    declared = frozenset(data["placeholders"])
    trusted = frozenset(data.get("trusted") or ())
    if not trusted <= declared:
        raise PromptError(f"prompt file {path}: trusted {sorted(trusted - declared)} undeclared")
    used: set[str] = set()
    for key in ("system", "user"):
        used |= jinja2.meta.find_undeclared_variables(env.parse(data[key]))
    if used != declared:
        raise PromptError(
            f"prompt file {path}: templates use {sorted(used)} but declare {sorted(declared)}"
        )
    return Prompt(
        name, declared, env.from_string(data["system"]), env.from_string(data["user"]), trusted
    )
