"""A FAKE OpenAI-compatible chat endpoint for fault and decision tests: stdlib, 127.0.0.1.

The real llama.cpp server (tests/servers.py) serves the happy path. A real server cannot
be made to misbehave on demand, so the faults a client must survive are scripted here:
HTTP errors with or without ``Retry-After``, bodies that are not chat completions, streams
that stop before ``data: [DONE]``, and requests that hang. Each request takes the next
`Reply` of the script; the last one repeats. ``routes`` script the LLM-assisted retrieval's
calls by prompt (a rewrite, a judge that names given papers relevant), so its decision
rule can be tested deterministically (tests/test_llm_assist.py).

Example:
    >>> script = [Reply(429, headers={"Retry-After": "2"}), Reply(text="fine")]
    >>> with FakeLLM(script) as ep:                                   # doctest: +SKIP
    ...     LLMClient(settings_for(ep.url)).complete(messages)
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from servers import HOST

# What a route answers with: replies in order (the last repeating), or a function of the
# request's JSON body (e.g. a scripted judge that reads the candidates it was shown).
Route = list["Reply"] | Callable[[dict[str, Any]], "Reply"]

# A `Reply.hang` that lasts until the server is stopped.
FOREVER = float("inf")


@dataclass(frozen=True)
class Reply:
    """One scripted response.

    Args:
        status: HTTP status.
        text: the assistant's reply, sent as a chat completion (or, when the request
            asks to stream, as chunks of `pieces`).
        body: sent instead of a completion: a dict as JSON, a str as it is.
        content_type: Content-Type of `body` (default: JSON for dicts, HTML for str).
        headers: extra response headers (e.g. Retry-After).
        pieces: the streamed deltas (default: `text` as one piece).
        done: end the stream with ``data: [DONE]``; False closes the connection early.
        finish: send the final chunk with ``finish_reason: "stop"``.
        hang: seconds to wait before answering (`FOREVER`: until the server stops).
        gap: seconds between streamed pieces (a slow model).
        tail: raw text written after the pieces (e.g. a malformed or error event).
    """

    status: int = 200
    text: str = "fine"
    body: dict[str, Any] | str | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    pieces: tuple[str, ...] | None = None
    done: bool = True
    finish: bool = True
    hang: float = 0.0
    gap: float = 0.0
    tail: str = ""


def completion(text: str) -> dict[str, Any]:
    """A minimal non-streaming chat completion carrying ``text``."""
    return {
        "id": "fake", "object": "chat.completion", "created": 0, "model": "fake",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
    }  # fmt: skip


def _chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
    data = {
        "id": "fake", "object": "chat.completion.chunk", "created": 0, "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }  # fmt: skip
    return f"data: {json.dumps(data)}\n\n".encode()


class FakeLLM:
    """A fake chat endpoint replaying `Reply`s (or ``(status, json_body)`` pairs) in order.

    Attributes:
        calls: requests answered so far.
        requests: their JSON bodies, in order.
    """

    def __init__(
        self,
        script: list[Reply | tuple[int, dict[str, Any]]],
        routes: dict[str, Route] | None = None,
    ):
        self.script = [r if isinstance(r, Reply) else Reply(r[0], body=r[1]) for r in script]
        # A request whose system message contains a route's key is answered by that route
        # (its own queue of replies, the last repeating, or a function of the request);
        # the others follow `script`.
        self.routes = dict(routes or {})
        self.route_calls: dict[str, int] = {k: 0 for k in self.routes}
        self.calls = 0
        self.requests: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._count = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                with endpoint._count:
                    reply = endpoint._next(request)
                    endpoint.calls += 1
                    endpoint.requests.append(request)
                if reply.hang:
                    endpoint._stop.wait(None if reply.hang == FOREVER else reply.hang)
                    if endpoint._stop.is_set():
                        return
                # The client may give up first: that is what some tests provoke.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    endpoint._respond(self, reply, bool(request.get("stream")))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _next(self, request: dict[str, Any]) -> Reply:
        """The reply to ``request``: its route's next one, else the script's (lock held)."""
        messages = request.get("messages") or [{}]
        system = str(messages[0].get("content", ""))
        for key, route in self.routes.items():
            if key in system:
                i = self.route_calls[key]
                self.route_calls[key] = i + 1
                if callable(route):
                    return route(request)
                return route[min(i, len(route) - 1)]
        return self.script[min(self.calls - sum(self.route_calls.values()), len(self.script) - 1)]

    @staticmethod
    def _respond(handler: BaseHTTPRequestHandler, reply: Reply, stream: bool) -> None:
        # HTTP/1.0 (http.server's default): the body ends when the connection closes, so a
        # stream without [DONE] is exactly a connection closed early.
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        if reply.body is not None or not (200 <= reply.status < 300):
            body = reply.body if reply.body is not None else {"error": {"message": "fake error"}}
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            default = "text/html" if isinstance(body, str) else "application/json"
            handler.send_header("Content-Type", reply.content_type or default)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        if not stream:
            data = json.dumps(completion(reply.text)).encode()
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.write(_chunk({"role": "assistant", "content": ""}))
        for piece in reply.pieces if reply.pieces is not None else (reply.text,):
            handler.wfile.write(_chunk({"content": piece}))
            handler.wfile.flush()
            time.sleep(reply.gap)
        handler.wfile.write(reply.tail.encode())
        if reply.finish:
            handler.wfile.write(_chunk({}, "stop"))
        if reply.done:
            handler.wfile.write(b"data: [DONE]\n\n")
        handler.wfile.flush()

    @property
    def url(self) -> str:
        """The OpenAI base URL (ends in /v1)."""
        return f"http://{HOST}:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # releases hanging handlers
        self.server.shutdown()
        self.server.server_close()


def http_date(seconds_from_now: float) -> str:
    """An HTTP-date (RFC 9110) ``seconds_from_now`` in the future, as Retry-After may carry."""
    from email.utils import formatdate

    return formatdate(time.time() + seconds_from_now, usegmt=True)
