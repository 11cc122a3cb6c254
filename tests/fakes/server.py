"""A loopback OpenAI-compatible chat server with a fixed per-request latency and fault injection.

Plain asyncio HTTP/1.1 with keep-alive (no web framework), so that the server itself is not what a benchmark
measures. Run it in a thread (`FakeOpenAIServer().start()`) or in its own process (`serve_in_process`).

Faults are decided per prompt (hash of the messages) so that they are reproducible, and hit the FIRST attempt
of a prompt only unless listed in `persistent`: a retry then succeeds, which is what a retrying client should see.
Kinds: timeout (sleeps past the client's timeout), 429, 500, empty (200 with empty content), malformed (200 with
unparseable content), badjson (200 whose body is not JSON).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import multiprocessing
import socket
import threading
import time
from typing import Any, Self

from fakes.replies import count_tokens, fake_reply

FAULT_KINDS = ("timeout", "429", "500", "empty", "malformed", "badjson")


class FakeOpenAIServer:
    def __init__(
        self,
        latency_s: float = 0.0,
        faults: dict[str, float] | None = None,
        persistent: tuple[str, ...] = (),
        timeout_sleep_s: float = 3.0,
        hallucinate: bool = True,
        script: dict[str, str] | None = None,
        port: int = 0,
        models: tuple[str, ...] = ("fake-model",),
        api_key: str | None = None,
    ) -> None:
        unknown = set(faults or {}) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {FAULT_KINDS}")
        self.latency_s = latency_s
        self.faults = dict(faults or {})
        self.persistent = set(persistent)
        self.timeout_sleep_s = timeout_sleep_s
        self.hallucinate = hallucinate
        self.script = script or {}
        self.port = port
        self.models = models
        self.api_key = api_key  # when set, any other bearer token gets a 401
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.first_request_at: float | None = None
        self.last_response_at: float | None = None
        self.auth_headers: set[str] = set()
        self.fault_counts: dict[str, int] = {}
        self._attempts: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop:
            self._loop.call_soon_threadsafe(self._loop.stop)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, sock=sock, backlog=1024))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    def serve_forever(self) -> None:
        self._run()

    # --- HTTP ---------------------------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                if "authorization" in headers:
                    self.auth_headers.add(headers["authorization"])
                if self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
                    status, payload = (
                        401,
                        {"error": {"message": "invalid api key", "type": "invalid_request_error"}},
                    )
                else:
                    status, payload = await self._respond(lines[0], body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                    f"Connection: keep-alive\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _respond(self, request_line: str, body: bytes) -> tuple[int, Any]:
        if "/stats" in request_line:
            stats = {
                "requests": self.requests,
                "max_in_flight": self.max_in_flight,
                "first_request_at": self.first_request_at,
                "last_response_at": self.last_response_at,
            }
            if request_line.startswith("POST"):  # reset
                self.requests, self.max_in_flight, self.first_request_at, self.last_response_at = (
                    0,
                    0,
                    None,
                    None,
                )
            return 200, stats
        if request_line.startswith("GET") and "/models" in request_line:
            return 200, {
                "object": "list",
                "data": [{"id": model, "object": "model"} for model in self.models],
            }
        if "/chat/completions" not in request_line:
            return 404, {"error": {"message": "not found"}}
        self.first_request_at = self.first_request_at or time.time()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._complete(body)
        finally:
            self.in_flight -= 1
            self.last_response_at = time.time()

    async def _complete(self, body: bytes) -> tuple[int, Any]:
        self.requests += 1
        request = json.loads(body)
        messages = request.get("messages", [])
        key = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        attempt = self._attempts.get(key, 0)
        self._attempts[key] = attempt + 1
        fault = self._fault_for(key, attempt)
        if fault:
            self.fault_counts[fault] = self.fault_counts.get(fault, 0) + 1
        if fault == "timeout":
            await asyncio.sleep(self.timeout_sleep_s)
        elif self.latency_s:
            await asyncio.sleep(self.latency_s)
        if fault == "429":
            return 429, {"error": {"message": "rate limited", "type": "rate_limit_error"}}
        if fault == "500":
            return 500, {"error": {"message": "internal error", "type": "server_error"}}
        if fault == "badjson":
            return 200, b"{not json"
        content = fake_reply(messages, self.script, self.hallucinate)
        if fault == "empty":
            content = ""
        elif fault == "malformed":
            content = "\x00\x01 ~~~ ###"
        prompt_tokens = sum(count_tokens(m.get("content") or "") for m in messages)
        return 200, {
            "id": f"chatcmpl-{key[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "fake"),
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": count_tokens(content),
                "total_tokens": prompt_tokens + count_tokens(content),
            },
        }

    def _fault_for(self, key: str, attempt: int) -> str | None:
        """The fault a prompt gets: a fixed slice of the hash space per kind; only on the first attempt unless the
        kind is persistent."""
        position = int(key[:8], 16) / 0xFFFFFFFF
        start = 0.0
        for kind in FAULT_KINDS:
            share = self.faults.get(kind, 0.0)
            if start <= position < start + share:
                return kind if (attempt == 0 or kind in self.persistent) else None
            start += share
        return None


def _serve(port: int, latency_s: float, ready: Any) -> None:
    server = FakeOpenAIServer(latency_s=latency_s, port=port)
    ready.set()
    server.serve_forever()


def serve_in_process(latency_s: float) -> tuple[multiprocessing.Process, str]:
    """Start the server in its own process (benchmarks: the client's CPU must not slow the server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ready = multiprocessing.Event()
    process = multiprocessing.Process(target=_serve, args=(port, latency_s, ready), daemon=True)
    process.start()
    ready.wait(10)
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    return process, f"http://127.0.0.1:{port}/v1"
