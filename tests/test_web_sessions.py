"""The web UI's per-browser-session state is bounded (issue 24): by ``ui.max_sessions``
(least recently used dropped) and ``ui.session_ttl_s`` (idle ones dropped), in our maps
and in gradio's own per-session state. In-process and fast: no server, no model.
"""

from __future__ import annotations

from typing import Any

import pytest

from assistant import Settings
from paperlens.web.sessions import AnsweredPapers, SessionMap, Sessions


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Shared:
    """Stands in for the shared `Assistant`: each new conversation is a new object."""

    def __init__(self) -> None:
        self.made = 0

    def new_conversation(self) -> Any:
        self.made += 1
        return _Bot(self.made)


class _Bot:
    def __init__(self, n: int) -> None:
        self.n = n
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1


def test_sessions_past_the_bound_evict_the_least_recently_used() -> None:
    sessions: SessionMap[int] = SessionMap(capacity=3)
    for i in range(3):
        sessions.put(f"s{i}", i)
    assert sessions.get("s0") == 0  # s0 used again: s1 is now the oldest
    sessions.put("s3", 3)
    assert len(sessions) == 3
    assert "s1" not in sessions
    assert [sid in sessions for sid in ("s0", "s2", "s3")] == [True, True, True]
    for i in range(4, 1000):  # many more sessions: never more than the bound
        sessions.put(f"s{i}", i)
    assert len(sessions) == 3
    assert [sessions.get(f"s{i}") for i in (997, 998, 999)] == [997, 998, 999]


def test_sessions_idle_past_the_ttl_are_dropped() -> None:
    clock = Clock()
    sessions: SessionMap[str] = SessionMap(capacity=100, ttl_s=60, clock=clock)
    sessions.put("old", "a")
    clock.now = 30
    sessions.put("new", "b")
    clock.now = 61  # "old" idle 61 s, "new" 31 s
    assert sessions.get("old") is None
    assert sessions.get("new") == "b"  # and used again now
    clock.now = 120
    assert sessions.get("new") == "b"  # idle 59 s: kept
    clock.now = 500
    assert len(sessions) == 0


def test_a_session_past_the_bound_gets_a_new_conversation() -> None:
    shared = Shared()
    sessions = Sessions(shared, capacity=2)  # type: ignore[arg-type]
    a, b = sessions.get("a"), sessions.get("b")
    assert sessions.get("a") is a  # the same conversation while kept
    sessions.get("c")  # b is the least recently used: dropped
    assert len(sessions) == 2
    sessions.reset("b")  # a dropped session: nothing to reset, no error
    assert b.resets == 0
    assert sessions.get("b") is not b  # back as a new conversation
    assert shared.made == 4


def test_answered_papers_are_bounded_too() -> None:
    answered = AnsweredPapers(capacity=2)
    for sid in ("a", "b", "c"):
        answered.remember(sid, [f"{sid}1", f"{sid}2", f"{sid}1"])
    assert len(answered) == 2
    assert answered.get("a") == ()
    assert answered.get("c") == ("c1", "c2")


def test_the_bound_is_a_setting_sized_for_a_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings().ui
    assert defaults.max_sessions == 200  # gradio's own default is 10,000
    assert defaults.session_ttl_s > 0
    monkeypatch.setenv("PAPERLENS_UI__MAX_SESSIONS", "7")
    monkeypatch.setenv("PAPERLENS_UI__SESSION_TTL_S", "90")
    ui = Settings().ui
    assert (ui.max_sessions, ui.session_ttl_s) == (7, 90)
    with pytest.raises(ValueError):
        Settings(ui={"max_sessions": 0})


def test_the_web_app_bounds_its_sessions_by_the_settings(tmp_path: Any) -> None:
    from assistant import Assistant
    from paperlens.web.app import WebApp

    settings = Settings(data_dir=tmp_path / "data", ui={"max_sessions": 3})
    web = WebApp(settings, Assistant(settings))  # an empty library; no model is loaded
    for i in range(10):
        web.sessions.get(f"s{i}")
        web.answered.remember(f"s{i}", ["p"])
    assert len(web.sessions) == 3 and len(web.answered) == 3
    assert web.answered.get("s0") == () and web.answered.get("s9") == ("p",)


def test_serve_bounds_gradios_per_session_state() -> None:
    from paperlens.web.server import serve

    class Demo:  # records what `serve` asks of gradio
        def queue(self, **kwargs: Any) -> None:
            self.queued = kwargs

        def launch(self, **kwargs: Any) -> tuple[Any, str, str]:
            self.launched = kwargs
            return None, "http://127.0.0.1", ""

    demo = Demo()
    serve(demo, Settings(ui={"max_sessions": 5}), prevent_thread_lock=True)  # type: ignore[arg-type]
    assert demo.launched["state_session_capacity"] == 5


def test_gradios_state_holder_keeps_at_most_the_bound() -> None:
    """gradio's mechanism itself, with the capacity `serve` passes: the oldest evicted."""
    import gradio as gr
    from gradio.state_holder import StateHolder

    with gr.Blocks() as blocks:
        gr.Textbox()
    blocks.state_session_capacity = Settings(ui={"max_sessions": 4}).ui.max_sessions
    holder = StateHolder()
    holder.set_blocks(blocks)
    for i in range(20):
        holder[f"s{i}"]  # a session's state, made on first use
    assert len(holder.session_data) == 4
    assert "s0" not in holder and "s19" in holder
