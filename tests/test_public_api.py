"""The public API (`assistant.__all__`) names values, never a submodule.

A name in `__all__` that is also a submodule's name (``assistant.text.terms``) resolves to the
module as soon as anything imports that submodule, so ``from assistant import terms`` gives
a module where a function was meant: the eval crashed on it once.
"""

from __future__ import annotations

import importlib
import pkgutil
import types

import assistant


def test_no_public_name_is_shadowed_by_a_submodule():
    submodules = {m.name for m in pkgutil.iter_modules(assistant.__path__)}
    for name in submodules:  # every submodule imported, as a long-running process has
        importlib.import_module(f"assistant.{name}")
    assert not sorted(set(assistant.__all__) & submodules)
    modules = [n for n in assistant.__all__ if isinstance(getattr(assistant, n), types.ModuleType)]
    assert modules == []


def test_every_public_name_resolves():
    missing = [n for n in assistant.__all__ if getattr(assistant, n, None) is None]
    assert missing == []
