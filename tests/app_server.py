"""Fixtures for the UI tests: the real app served on 127.0.0.1 over a copy of the bundled library.

Import the fixture into a test module (``from app_server import served_app_fixture``); they build
on `bundled_library` and `embedder` from conftest.py. The library is copied so that
uploads in one module never change what other tests read.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class ServedApp:
    url: str
    settings: Any
    assistant: Any
    demo: Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(settings: Any, embedder: Any) -> ServedApp:
    """Build the app over ``settings``' library and serve it on a free local port."""
    from assistant import Assistant
    from paperlens.web import build_app, serve

    bot = Assistant(settings, embedder=embedder)
    demo = build_app(settings, bot)
    _, url, _ = serve(demo, settings, port=free_port(), prevent_thread_lock=True, quiet=True)
    return ServedApp(url.rstrip("/") + "/", settings, bot, demo)


def copy_library(settings: Any, dest: Path) -> Any:
    """Settings of a private copy of ``settings``' library."""
    from assistant import Settings

    shutil.copytree(settings.data_dir, dest)
    return Settings(data_dir=dest)


@pytest.fixture(scope="module", name="served_app")
def served_app_fixture(bundled_library, embedder, tmp_path_factory) -> Iterator[ServedApp]:
    """The app on a copy of the bundled library, for one test module."""
    settings = copy_library(bundled_library[0], tmp_path_factory.mktemp("ui") / "data")
    served = start_app(settings, embedder)
    try:
        yield served
    finally:
        served.demo.close()
