"""Per-browser-session state of the web UI: conversations, and each one's last answer.

Both are bounded (least recently used dropped) and safe for concurrent sessions: a lock
guards each map for a lookup or an update, never across a callback's `yield`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from assistant import Assistant

SESSIONS_KEPT = 64  # conversations kept in memory (least recently used dropped)


class Sessions:
    """One `Assistant` per browser session, all sharing the library and the embedder.

    The conversation (what follow-ups refer to) is per session; the heavy parts are not:
    every session reads the shared retriever's library snapshot, which an upload replaces
    whole (`Retriever.refresh`), so sessions never wait on one another.
    """

    def __init__(self, shared: Assistant, capacity: int = SESSIONS_KEPT):
        self.shared = shared
        self.capacity = capacity
        self._bots: OrderedDict[str, Assistant] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sid: str) -> Assistant:
        """The conversation of session ``sid`` (a new one for a new or dropped session)."""
        with self._lock:
            bot = self._bots.get(sid)
            if bot is None:
                # One retriever for all sessions: it holds the library's vectors and BM25
                # in memory, and retrieval keeps no per-conversation state.
                bot = self.shared.new_conversation()
                self._bots[sid] = bot
            self._bots.move_to_end(sid)
            while len(self._bots) > self.capacity:
                self._bots.popitem(last=False)
            return bot

    def reset(self, sid: str) -> None:
        """Forget session ``sid``'s conversation (the "New chat" button)."""
        with self._lock:
            bot = self._bots.get(sid)
        if bot is not None:
            bot.reset()


class AnsweredPapers:
    """Each session's last answer's papers, ringed on the library map."""

    def __init__(self, capacity: int = SESSIONS_KEPT):
        self.capacity = capacity
        self._papers: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, sid: str, paper_ids: list[str]) -> None:
        """Record the papers of session ``sid``'s newest answer (order kept, no repeats)."""
        with self._lock:
            self._papers[sid] = tuple(dict.fromkeys(paper_ids))
            self._papers.move_to_end(sid)
            while len(self._papers) > self.capacity:
                self._papers.popitem(last=False)

    def get(self, sid: str) -> tuple[str, ...]:
        """The papers of session ``sid``'s last answer (none for an unknown session)."""
        with self._lock:
            return self._papers.get(sid, ())


def content_text(content: Any) -> str:
    """The text of a chat message as gradio hands it back (a string or content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(c.get("text", "") for c in content if isinstance(c, dict))
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


def plain_history(history: list[Any] | None) -> list[dict[str, str]]:
    """The chat's messages as ``{"role", "content"}`` dicts of text (others dropped)."""
    return [
        {"role": m["role"], "content": content_text(m.get("content"))}
        for m in history or []
        if isinstance(m, dict) and m.get("role") in ("user", "assistant")
    ]
