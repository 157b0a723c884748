"""What the API pulls share: a sliding-window rate limiter, a GET that backs off on 429 / 5xx and on a dropped
connection or timeout, request counting.

Error messages never carry a URL: Smartlead puts its api_key in the query string (the CLI redacts registered
secrets too, but a message without the URL cannot leak it in the first place).
"""

from __future__ import annotations

import threading
import time
from collections import deque

import requests

from ..errors import PullError

RETRIES = 5
# failures of the connection, not answers: retried with backoff (a certificate error is not: it will not pass)
TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class RateLimiter:
    """At most `limit` requests in any `window` seconds. A slot is counted from the moment its response arrived
    (not when it was sent), so however the server times its window, it never sees more than `limit`."""

    def __init__(self, limit: int, window: float, clock=time.monotonic, sleep=time.sleep):
        self.limit, self.window, self.clock, self.sleep = limit, window, clock, sleep
        self.done: deque[float] = deque()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            while len(self.done) >= self.limit:
                ahead = self.done[0] + self.window - self.clock()
                if ahead <= 0:
                    self.done.popleft()
                else:
                    self.sleep(ahead + 0.01)

    def finished(self) -> None:
        with self.lock:
            self.done.append(self.clock())


class ApiClient:
    """GETs against one API with a limiter (optional), backoff on 429 and 5xx, and a request count."""

    def __init__(
        self,
        name: str,
        base_url: str,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
        timeout=(10, 120),
        sleep=time.sleep,
    ):
        self.name, self.base_url = name, base_url.rstrip("/")
        self.session = session or requests.Session()
        self.limiter, self.timeout, self.sleep = limiter, timeout, sleep
        self.requests = 0
        self.throttled = 0

    def get(self, path: str, params=None, headers=None, refused=None) -> requests.Response:
        """GET base_url + path; `refused(response)` turns a 4xx other than 429 into a PullError message."""
        for attempt in range(1, RETRIES + 1):
            if self.limiter:
                self.limiter.wait()
            try:
                r = self.session.get(self.base_url + path, params=params, headers=headers, timeout=self.timeout)
            except TRANSIENT as e:  # a GET is idempotent: a reset or timeout is retried like a 5xx
                if attempt < RETRIES and not isinstance(e, requests.exceptions.SSLError):
                    self.sleep(_backoff(attempt))
                    continue
                raise PullError(
                    f"Cannot reach {self.name} at '{self.base_url}' ({type(e).__name__}, {attempt} attempts): check "
                    f"the {self.name} base URL variable and the network, then rerun (nothing was written for this "
                    "source)."
                ) from None
            except requests.RequestException as e:
                raise PullError(
                    f"Cannot reach {self.name} at '{self.base_url}' ({type(e).__name__}): check the "
                    f"{self.name} base URL variable and the network."
                ) from None
            finally:
                self.requests += 1
                if self.limiter:
                    self.limiter.finished()
            if r.status_code == 429 or r.status_code >= 500:
                self.throttled += r.status_code == 429
                if attempt < RETRIES:
                    self.sleep(_retry_after(r, attempt))
                    continue
                raise PullError(
                    f"{self.name} answered HTTP {r.status_code} {RETRIES} times in a row for "
                    f"'{path}': {'rate limit' if r.status_code == 429 else 'server error'}; rerun "
                    "later (nothing was written for this source)."
                )
            if r.status_code >= 400:
                raise PullError(
                    (refused(r) if refused else None)
                    or f"{self.name} refused '{path}' with HTTP {r.status_code}: {_body(r)}"
                )
            return r
        raise AssertionError("unreachable")


def _retry_after(r: requests.Response, attempt: int) -> float:
    try:
        return min(60.0, max(0.1, float(r.headers.get("Retry-After", ""))))
    except ValueError:
        return _backoff(attempt)


def _backoff(attempt: int) -> float:
    return min(30.0, 0.5 * 2 ** (attempt - 1))


def _body(r: requests.Response) -> str:
    try:
        doc = r.json()
        if isinstance(doc, dict):
            error = doc.get("error")  # Smartlead's 429: {"error": {"code": …, "message": …}}
            if isinstance(error, dict):
                return str(error.get("message") or error.get("code") or error)[:300]
            return str(doc.get("message") or error or doc)[:300]
    except ValueError:
        pass
    return r.text[:300].strip() or "(empty body)"


def message_of(r: requests.Response) -> str:
    return _body(r)
