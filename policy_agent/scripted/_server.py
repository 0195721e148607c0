"""The scripted OpenAI-compatible HTTP server: a stand-in for vLLM in tests, benchmarks and replays.

Serves POST /v1/chat/completions and POST /v1/completions (non-streaming only), GET /v1/models,
GET /health, GET /version (the script's `vllm_version`, else 404), POST /tokenize (the
script's `chat_template` rendering a chat request, `_tokenize`) and GET /v1/_requests (every
request received, for assertions). Runs inside an existing event loop (`async with`) or in a
background thread of its own (`with`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from aiohttp import web
from pydantic import JsonValue

from policy_agent.errors import PolicyAgentError
from policy_agent.scripted._responder import Endpoint, Reply, Responder, error_body
from policy_agent.scripted._script import Script, load_script
from policy_agent.scripted._tokenize import tokenize_reply


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    """One request as the server received it."""

    path: str
    """e.g. `/v1/chat/completions`."""
    body: JsonValue
    """The parsed JSON body; None when it was not JSON."""


class RemoteHostRefused(PolicyAgentError, ValueError):
    """The server was asked to listen beyond this machine without `allow_remote`."""


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ScriptedServer:
    """An OpenAI-compatible server answering from a script. Port 0 picks a free port.

    `async with ScriptedServer(script) as server:` runs it in the current event loop;
    `with ScriptedServer(script) as server:` runs it in a background thread. Either way
    `server.base_url` is the `api_base` to give litellm, e.g. `http://127.0.0.1:41234/v1`.
    The last `keep_requests` requests are kept (bodies can be large: a long prompt is ~50 kB).
    """

    def __init__(
        self,
        script: Script | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        keep_requests: int = 1000,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise RemoteHostRefused(
                f"refusing to listen on {host!r}: the scripted server has no authentication "
                "by default; use 127.0.0.1, or allow_remote (--allow-remote) if you mean it"
            )
        self.script = load_script(script) if isinstance(script, Path) else script
        self._host = host
        self._port = port
        self._responder = Responder(self.script)
        self._requests: deque[RecordedRequest] = deque(maxlen=keep_requests)
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (ending in `/v1`); valid once the server has started."""
        if self._runner is None:
            raise RuntimeError("the scripted server has not started; use `async with` or `with`")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far (the most recent `keep_requests`), oldest first."""
        return list(self._requests)

    def reset(self) -> None:
        """Forget the recorded requests and start every role's answers from the beginning."""
        self._requests.clear()
        self._responder.reset()

    async def start(self) -> None:
        """Start listening in the running event loop."""
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/_requests", self._recorded)
        app.router.add_get("/health", self._health)
        app.router.add_get("/version", self._version)
        app.router.add_post("/tokenize", self._tokenize)
        # No access log: it costs more than answering. Handlers are cancelled when the client
        # disconnects, so a `hang` answer ends with the client's timeout.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, backlog=1024)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._port = site.port
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening; hanging answers are released."""
        if self._stopping is not None:
            self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> ScriptedServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __enter__(self) -> ScriptedServer:
        started = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as error:
                failure.append(error)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread_loop = loop
        self._thread = threading.Thread(target=run, name="scripted-server", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            raise failure[0]
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._thread_loop is not None and self._thread is not None:
            self._thread_loop.call_soon_threadsafe(self._thread_loop.stop)
            self._thread.join()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._serve("chat", request)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._serve("completions", request)

    async def _serve(self, endpoint: Endpoint, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: JsonValue = json.loads(raw)
        except ValueError:
            body = None
        self._requests.append(RecordedRequest(path=request.path, body=body))
        if not isinstance(body, dict):
            message = "the request body is not a JSON object"
            return _json(400, error_body(400, message, "BadRequestError"))
        if self._refuses(request):
            return _unauthorized()
        if body.get("stream") is True:
            message = "the scripted server does not stream; send stream: false"
            return _json(400, error_body(400, message, "BadRequestError", "stream"))
        reply = self._responder.reply(endpoint, body)
        if reply.delay_s > 0:
            await asyncio.sleep(reply.delay_s)
        if reply.hang:
            assert self._stopping is not None
            await self._stopping.wait()
            return _json(503, error_body(503, "the scripted server is stopping", "ServerError"))
        if reply.trickle_s is not None:
            return await _trickle(request, reply, reply.trickle_s)
        return web.Response(status=reply.status, text=reply.body, content_type=reply.content_type)

    def _refuses(self, request: web.Request) -> bool:
        """Whether a key is required and the request does not carry it (as `vllm serve
        --api-key` checks every /v1 path)."""
        key = self.script.require_api_key
        return key is not None and request.headers.get("Authorization") != f"Bearer {key}"

    async def _models(self, request: web.Request) -> web.StreamResponse:
        if self._refuses(request):
            return _unauthorized()
        models = [
            {"id": name, "object": "model", "owned_by": "policy-agent-scripted"}
            for name in self.script.served_models
        ]
        return _json(200, json.dumps({"object": "list", "data": models}))

    async def _recorded(self, request: web.Request) -> web.StreamResponse:
        recorded = [{"path": r.path, "body": r.body} for r in self._requests]
        return _json(200, json.dumps(recorded))

    async def _health(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=200)

    async def _version(self, request: web.Request) -> web.StreamResponse:
        # vLLM serves /version outside /v1 and without the API key check.
        version = self.script.vllm_version
        if version is None:
            return web.Response(status=404, text="Not Found")
        return _json(200, json.dumps({"version": version}))

    async def _tokenize(self, request: web.Request) -> web.StreamResponse:
        # Like /version, outside /v1: vLLM's key check does not guard it.
        try:
            body: JsonValue = json.loads(await request.read())
        except ValueError:
            body = None
        self._requests.append(RecordedRequest(path=request.path, body=body))
        if self.script.chat_template == "none":
            return web.Response(status=404, text="Not Found")
        status, text = tokenize_reply(self.script, body)
        return _json(status, text)


def _json(status: int, body: str) -> web.Response:
    return web.Response(status=status, text=body, content_type="application/json")


def _unauthorized() -> web.Response:
    """vLLM's answer to a missing or wrong key (0.17.1 vllm/entrypoints/openai/server_utils.py,
    `AuthenticationMiddleware`: `JSONResponse(content={"error": "Unauthorized"}, 401)`)."""
    return _json(401, json.dumps({"error": "Unauthorized"}))


async def _trickle(request: web.Request, reply: Reply, interval_s: float) -> web.StreamResponse:
    """The headers (with the whole body's length) at once, then the body byte by byte."""
    body = reply.body.encode()
    response = web.StreamResponse(status=reply.status)
    response.content_type = reply.content_type
    response.content_length = len(body)
    await response.prepare(request)
    for position in range(len(body)):
        await response.write(body[position : position + 1])
        await asyncio.sleep(interval_s)
    await response.write_eof()
    return response
