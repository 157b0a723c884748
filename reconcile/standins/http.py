"""Run a tornado application on a free loopback port in a background thread (in-process, for tests and the CLI)."""

from __future__ import annotations

import asyncio
import json
import threading

import tornado.httpserver
import tornado.netutil
import tornado.web


class ServiceHandler(tornado.web.RequestHandler):
    """A stand-in's handler base: the errors tornado raises itself — no route (404, the app's
    `default_handler_class`), a method the route does not serve (405, with `Allow`) — are answered in the service's
    own error shape (`error_body`), never tornado's HTML page: a client of the service parses them as it parses the
    service's other errors."""

    def error_body(self, status: int, message: str):
        """The service's error document for `status`; a str is sent as text/plain (Slack's webhook codes)."""
        raise NotImplementedError

    def allowed_methods(self) -> list[str]:
        base = tornado.web.RequestHandler
        return [m for m in self.SUPPORTED_METHODS if getattr(type(self), m.lower()) is not getattr(base, m.lower())]

    def write_error(self, status_code: int, **kwargs) -> None:
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
            message = f"HTTP method {self.request.method} is not allowed on {self.request.path}"
        else:
            message = f"No resource at {self.request.path}" if status_code == 404 else self._reason
        body = self.error_body(status_code, message)
        if isinstance(body, str):
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            return self.finish(body)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(body))


def not_found_handler(base: type[ServiceHandler]) -> type[ServiceHandler]:
    """The app's `default_handler_class`: any path no route matches is a 404 in `base`'s error shape."""

    class NotFound(base):
        def prepare(self):
            raise tornado.web.HTTPError(404)

    return NotFound


class Served:
    """A tornado app listening on 127.0.0.1:<port> in its own thread and event loop; stop() ends it."""

    def __init__(self, app: tornado.web.Application, port: int = 0):
        self.app = app
        sockets = tornado.netutil.bind_sockets(port, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(sockets,), daemon=True, name=f"standin-{self.port}")
        self._thread.start()
        self._ready.wait(10)

    def _run(self, sockets) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._server = tornado.httpserver.HTTPServer(self.app)
        self._server.add_sockets(sockets)
        self._loop.call_soon(self._ready.set)
        self._loop.run_forever()
        self._server.stop()
        self._loop.run_until_complete(self._server.close_all_connections())
        self._loop.close()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
