"""Run a tornado application on a free loopback port in a background thread (in-process, for tests and the CLI)."""

from __future__ import annotations

import asyncio
import threading

import tornado.httpserver
import tornado.netutil
import tornado.web


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
