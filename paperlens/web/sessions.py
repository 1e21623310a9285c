"""Per-browser-session state of the web UI: conversations, and each one's last answer.

Both are bounded by the settings (``ui.max_sessions``: least recently used dropped;
``ui.session_ttl_s``: idle ones dropped) and safe for concurrent sessions: a lock guards
each map for a lookup or an update, never across a callback's `yield`. Gradio's own
per-session state is bounded by the same number (`serve`: ``state_session_capacity``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from assistant import Assistant

SESSIONS_KEPT = 200  # the default of ``ui.max_sessions``
V = TypeVar("V")


class SessionMap(Generic[V]):
    """Session id -> value, bounded: at most ``capacity`` sessions (the least recently
    used dropped first) and none idle longer than ``ttl_s`` (0: no limit; checked whenever
    the map is used). Thread-safe."""

    def __init__(
        self,
        capacity: int = SESSIONS_KEPT,
        ttl_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.capacity = max(1, capacity)
        self.ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[str, tuple[V, float]] = OrderedDict()  # oldest use first
        self._lock = threading.Lock()

    def get(self, sid: str) -> V | None:
        """The value of session ``sid`` (None: unknown or dropped); a use of it."""
        with self._lock:
            now = self._drop_expired()
            item = self._items.get(sid)
            if item is None:
                return None
            self._items[sid] = (item[0], now)
            self._items.move_to_end(sid)
            return item[0]

    def get_or_add(self, sid: str, make: Callable[[], V]) -> V:
        """The value of session ``sid``, made (and kept) when there is none."""
        with self._lock:
            now = self._drop_expired()
            item = self._items.get(sid)
            value = make() if item is None else item[0]
            self._put(sid, value, now)
            return value

    def put(self, sid: str, value: V) -> None:
        """Keep ``value`` for session ``sid`` (the most recently used now)."""
        with self._lock:
            self._put(sid, value, self._drop_expired())

    def __len__(self) -> int:
        with self._lock:
            self._drop_expired()
            return len(self._items)

    def __contains__(self, sid: object) -> bool:
        with self._lock:
            self._drop_expired()
            return sid in self._items

    def _put(self, sid: str, value: V, now: float) -> None:
        self._items[sid] = (value, now)
        self._items.move_to_end(sid)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def _drop_expired(self) -> float:
        """Drop the sessions idle past ``ttl_s`` (the oldest come first); the time now."""
        now = self._clock()
        if self.ttl_s > 0:
            while self._items:
                sid, (_, used) = next(iter(self._items.items()))
                if now - used <= self.ttl_s:
                    break
                del self._items[sid]
        return now


class Sessions:
    """One `Assistant` per browser session, all sharing the library and the embedder.

    The conversation (what follow-ups refer to) is per session; the heavy parts are not:
    every session reads the shared retriever's library snapshot, which an upload replaces
    whole (`Retriever.refresh`), so sessions never wait on one another. At most
    ``capacity`` conversations are kept, none idle past ``ttl_s`` (`SessionMap`).
    """

    def __init__(self, shared: Assistant, capacity: int = SESSIONS_KEPT, ttl_s: float = 0.0):
        self.shared = shared
        self.capacity = capacity
        # One retriever for all sessions: it holds the library's vectors and BM25 in
        # memory, and retrieval keeps no per-conversation state.
        self._bots: SessionMap[Assistant] = SessionMap(capacity, ttl_s)

    def get(self, sid: str) -> Assistant:
        """The conversation of session ``sid`` (a new one for a new or dropped session)."""
        return self._bots.get_or_add(sid, self.shared.new_conversation)

    def reset(self, sid: str) -> None:
        """Forget session ``sid``'s conversation (the "New chat" button)."""
        bot = self._bots.get(sid)
        if bot is not None:
            bot.reset()

    def __len__(self) -> int:
        """Conversations held now."""
        return len(self._bots)


class AnsweredPapers:
    """Each session's last answer's papers, ringed on the library map (bounded as
    `Sessions` is)."""

    def __init__(self, capacity: int = SESSIONS_KEPT, ttl_s: float = 0.0):
        self.capacity = capacity
        self._papers: SessionMap[tuple[str, ...]] = SessionMap(capacity, ttl_s)

    def remember(self, sid: str, paper_ids: list[str]) -> None:
        """Record the papers of session ``sid``'s newest answer (order kept, no repeats)."""
        self._papers.put(sid, tuple(dict.fromkeys(paper_ids)))

    def get(self, sid: str) -> tuple[str, ...]:
        """The papers of session ``sid``'s last answer (none for an unknown session)."""
        return self._papers.get(sid) or ()

    def __len__(self) -> int:
        """Sessions whose last answer is held now."""
        return len(self._papers)


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
