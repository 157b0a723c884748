"""HTTPS transport: the org as an ASGI app served by uvicorn (h11) with TLS from a local trustme CA.

uvicorn does the HTTP/1.1 work a hand-written layer gets wrong: chunked request bodies, keep-alive,
`Expect: 100-continue`, `Connection: close`, pipelining. This module adds what Salesforce documents on top:
- request bodies sent with `Content-Encoding: gzip` or `deflate` are decompressed before processing, and a
  response is compressed when the request says `Accept-Encoding: gzip` (or `deflate`)
  ("Compression Headers", https://developer.salesforce.com/docs/platform/api-rest/guide/intro-rest-compression.html;
  Bulk API: https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/asynch_api_planning_compression.htm);
- an unexpected failure is a 500 `UNKNOWN_EXCEPTION` in Salesforce's error-array shape, never a dropped socket.
Handlers are synchronous and run in worker threads, one at a time inside the org's lock (server.dispatch).
"""

import asyncio
import concurrent.futures
import gzip
import logging
import socket
import ssl
import threading
import traceback
import zlib
from pathlib import Path
from urllib.parse import parse_qs

import trustme
import uvicorn

from ..errors import SandboxError, unbound_port
from .server import dispatch
from .state import Org
from .web import ApiError, Request, Response

log = logging.getLogger("reconcile.sandbox")
KEEP_ALIVE_SECONDS = 120  # idle keep-alive connections are closed after this
WORKERS = 32  # requests handled at once (injected latency sleeps outside the org lock)
NO_BODY = (204, 304)


class SandboxApp:
    """ASGI application: one HTTP request → one `server.dispatch` call."""

    def __init__(self, org: Org):
        self.org = org
        self.workers = concurrent.futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="sandbox-request")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        headers = _headers(scope)
        path = scope["path"]
        params = {k: v[0] for k, v in parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True).items()}
        response = await asyncio.get_running_loop().run_in_executor(
            self.workers, self._handle, scope["method"], path, params, headers, body
        )
        await _send(send, response, headers.get("accept-encoding", ""), scope["method"])

    def _handle(self, method: str, path: str, params: dict, headers: dict, body: bytes) -> Response:
        req = Request(method, path, params, headers, b"")
        try:
            req.body = decode_body(body, headers.get("content-encoding", ""))
            response = dispatch(self.org, req)
        except ApiError as err:
            response = err.response()
        except Exception:  # noqa: BLE001 - answered like Salesforce's unhandled-error 500, and logged
            log.error("sandbox org: unexpected error on %s %s\n%s", method, path, traceback.format_exc())
            response = ApiError(
                500,
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this ErrorId if you contact support: sandbox-0.",
            ).response()
        self.org.log_request(method, path, req.user.username if req.user else None, response.status)
        return response


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _headers(scope) -> dict:
    """Lower-cased header names; repeated headers joined with ', ' (RFC 9110 §5.3)."""
    out: dict = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def decode_body(body: bytes, encoding: str) -> bytes:
    """The request body with its Content-Encoding (gzip, deflate, identity) undone; ApiError otherwise."""
    encoding = encoding.strip().lower()
    if not body or encoding in ("", "identity"):
        return body
    try:
        if encoding in ("gzip", "x-gzip"):
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, EOFError, zlib.error) as err:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Request body is not valid {encoding} data: {err}") from err
    raise ApiError(
        415, "UNSUPPORTED_MEDIA_TYPE", f"Content-Encoding '{encoding}' is not supported; use gzip or deflate."
    )


def _accepts(accept_encoding: str) -> str | None:
    """gzip or deflate if the client accepts it (q > 0), gzip preferred."""
    offered = {}
    for item in accept_encoding.lower().split(","):
        name, _, params = item.strip().partition(";")
        q = params.strip().removeprefix("q=") if params.strip().startswith("q=") else "1"
        try:
            offered[name.strip()] = float(q)
        except ValueError:
            offered[name.strip()] = 0.0
    return next((c for c in ("gzip", "deflate") if offered.get(c, offered.get("*", 0)) > 0), None)


async def _send(send, response: Response, accept_encoding: str, method: str = "GET") -> None:
    body = b"" if response.status in NO_BODY else response.body
    headers = [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in response.headers.items()]
    if response.content_type and response.status not in NO_BODY:
        headers.append((b"content-type", response.content_type.encode("latin-1")))
    coding = _accepts(accept_encoding) if body else None
    if coding:
        body = gzip.compress(body, mtime=0) if coding == "gzip" else zlib.compress(body)
        headers += [(b"content-encoding", coding.encode()), (b"vary", b"Accept-Encoding")]
    if response.status not in NO_BODY:
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    # HEAD: the GET's headers, Content-Length included, and no body (RFC 9110 §9.3.2)
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


class _Uvicorn(uvicorn.Server):
    async def shutdown(self, sockets=None) -> None:
        """Let requests in flight finish (up to 5 s), then drop the idle keep-alive connections at once: a TLS
        close waits for the client's close_notify, which an idle pooled client never sends."""
        for server in self.servers:
            server.close()
        for _ in range(250):
            if not self.server_state.tasks:
                break
            await asyncio.sleep(0.02)
        for connection in list(self.server_state.connections):
            connection.transport.abort()
        await super().shutdown(sockets)


class SandboxServer:
    """uvicorn serving `SandboxApp(org)` over TLS on 127.0.0.1:`port` (0 = a free port), in a thread."""

    def __init__(self, org: Org, port: int, ca: trustme.CA):
        self.org = org
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind(("127.0.0.1", port))
        except OSError as e:
            self._socket.close()
            raise unbound_port("127.0.0.1", port, e, SandboxError) from e
        self.server_address = self._socket.getsockname()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        config = uvicorn.Config(
            SandboxApp(org),
            http="h11",
            ws="none",
            lifespan="off",
            loop="asyncio",
            log_config=None,
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=5,
            ssl_context_factory=lambda _config, _default: context,
        )
        self._app = config.app
        self._uvicorn = _Uvicorn(config)
        self._thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        """Serve in a daemon thread; returns once the socket accepts connections."""
        self._thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [self._socket]}, name="sandbox-org", daemon=True
        )
        self._thread.start()
        while not self._uvicorn.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"The sandbox org could not start on 127.0.0.1:{self.server_address[1]}.")
            self._thread.join(timeout=0.01)
        return self._thread

    def shutdown(self) -> None:
        self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def server_close(self) -> None:
        self._socket.close()
        self._app.workers.shutdown(wait=False)


def load_ca(directory: Path, stem: str) -> tuple:
    """The CA next to the state file (created once, reused across restarts) and its PEM path."""
    cert, key = directory / f"{stem}.ca.pem", directory / f"{stem}.ca-key.pem"
    if cert.exists() and key.exists():
        ca = trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
    else:
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA(organization_name="reconcile sandbox org")
        ca.private_key_pem.write_to_path(str(key))
        key.chmod(0o600)
        ca.cert_pem.write_to_path(str(cert))
    return ca, str(cert)
