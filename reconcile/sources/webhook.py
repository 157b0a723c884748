"""Smartlead webhooks → a durable JSONL spool; `pull` copies the spooled days into smartlead/events.jsonl.

    reconcile smartlead-webhook serve --spool /srv/spool [--port 8787]
    Smartlead webhook URL:  https://<your host>/smartlead/<RECONCILE_SMARTLEAD_WEBHOOK_SECRET>
                            (or POST /smartlead with header X-Reconcile-Webhook-Secret: <secret>, or with
                            Smartlead's own payload field secret_key = the secret; secret_key is never spooled)

Read by the plan: EMAIL_BOUNCE / EMAIL_BOUNCED, EMAIL_REPLY / EMAIL_REPLIED, LEAD_CATEGORY_UPDATED (old and new
names and field sets, reference/source_schemas.md §1.8) — these need a lead email and a time; Smartlead's other event
types are spooled as they come. Each accepted payload is appended as one line to
SPOOL/events-YYYY-MM-DD.jsonl (UTC day of receipt), written with one write(2) on an O_APPEND descriptor and fsynced
(the file, and the folder when the file is new) before the answer 200 — an acknowledged event survives a crash.
A crash mid-write can leave only an unacknowledged partial last line: the reader skips it and the server, when it
starts, moves it to SPOOL/rejected/ (reason "torn write") and truncates it, so later lines stay whole.
A bad payload (not JSON, not an object, no event_type or another event type, no lead email or time) gets 400 and is
kept with the reason in SPOOL/rejected/rejected-YYYY-MM-DD.jsonl; a wrong secret gets 403, a body sent as another
Content-Type than application/json 415, and both are kept there too; a body over 8 MiB gets 413, another method than
POST 405 (neither kept). Nothing refused is ever in the day files `pull` reads. The spool keeps
every delivery; `copy_events` writes each event once (delivery_key: Smartlead may deliver an event again).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import socket
import threading
from datetime import datetime, timezone
from pathlib import Path

from ..errors import PullError, unbound_port

EVENTS = {"EMAIL_BOUNCE", "EMAIL_BOUNCED", "EMAIL_REPLY", "EMAIL_REPLIED", "LEAD_CATEGORY_UPDATED"}
# Smartlead's other event types (§1.8, both doc generations): spooled as they come (the plan ignores them), so a
# webhook subscribed to more events than reconcile reads is not answered 400 and disabled by Smartlead.
OTHER_EVENTS = {
    "EMAIL_SENT",
    "FIRST_EMAIL_SENT",
    "EMAIL_OPEN",
    "EMAIL_OPENED",
    "EMAIL_LINK_CLICK",
    "EMAIL_CLICKED",
    "LEAD_UNSUBSCRIBED",
    "EMAIL_UNSUBSCRIBED",
    "MANUAL_STEP_REACHED",
}
SECRET_VAR = "RECONCILE_SMARTLEAD_WEBHOOK_SECRET"
HEADER = b"x-reconcile-webhook-secret"
MAX_BODY = 8 * 1024 * 1024
DAY_FILE = re.compile(r"events-(\d{4}-\d{2}-\d{2})\.jsonl$")
MARKER = ".last-pulled-day"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Spool:
    """Append-only, fsynced JSONL files per UTC day; one writer lock per process."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        (self.root / "rejected").mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()

    def append(self, path: Path, doc: dict) -> None:
        line = (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self.lock:
            new = not path.exists()
            if new:  # the spool or its rejected/ folder removed while the receiver runs: made again, nothing lost
                path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                written = os.write(fd, line)
                while written < len(line):  # a short write: finish the line before anyone else appends
                    written += os.write(fd, line[written:])
                os.fsync(fd)
            finally:
                os.close(fd)
            if new:
                dfd = os.open(path.parent, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)

    def accept(self, payload: dict) -> None:
        self.append(self.root / f"events-{_now():%Y-%m-%d}.jsonl", payload)

    def reject(self, reason: str, body: bytes) -> None:
        self.append(
            self.root / "rejected" / f"rejected-{_now():%Y-%m-%d}.jsonl",
            {
                "received_at": _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "reason": reason,
                "body": body.decode("utf-8", "replace"),
            },
        )

    def repair(self) -> list[str]:
        """Move a torn (unacknowledged) last line of each day file to rejected/ and truncate it; returns notes."""
        notes = []
        for path in sorted(self.root.glob("events-*.jsonl")):
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                cut = data.rfind(b"\n") + 1
                self.reject(f"torn write in {path.name} (a crash before fsync; never acknowledged)", data[cut:])
                with open(path, "r+b") as fh:
                    fh.truncate(cut)
                    os.fsync(fh.fileno())
                notes.append(f"{path.name}: torn last line of {len(data) - cut} bytes moved to rejected/")
        return notes


def problem(doc) -> str | None:
    """Why a payload is not a Smartlead event reconcile reads, or None."""
    if not isinstance(doc, dict):
        return "payload is not a JSON object"
    kind = doc.get("event_type") or doc.get("event")
    # every Smartlead payload names its event in event_type (older ones: event), §1.8 and the Webhook Guide
    # https://help.smartlead.ai/Webhook-Guide-Updated-4d0ae6b2fa6a4db1b4c1ead824a86866
    if kind is None or kind == "":
        return "no event_type (every Smartlead webhook payload names its event in event_type)"
    if not isinstance(kind, str):
        return f"event_type is not a string but {json.dumps(kind)[:80]}"
    if kind in OTHER_EVENTS:
        return None
    if kind not in EVENTS:
        return f"event_type '{kind}' is not a Smartlead event type (reconcile reads {', '.join(sorted(EVENTS))})"
    lead = doc.get("lead") if isinstance(doc.get("lead"), dict) else {}
    data = doc.get("lead_data") if isinstance(doc.get("lead_data"), dict) else {}
    if not any(
        isinstance(v, str) and "@" in v
        for v in (
            doc.get("sl_lead_email"),
            doc.get("to_email"),
            doc.get("lead_email"),
            data.get("email"),
            lead.get("email"),
        )
    ):
        return "no lead email (sl_lead_email, to_email, lead_email, lead_data.email)"
    key = next((k for k in TIME_KEYS if doc.get(k) not in (None, "")), None)
    if key is None:
        return "no event time (event_timestamp, time_replied, time_sent)"
    if not _is_timestamp(doc[key]):  # the plan would stop at it (a bad value), every day the spool is pulled
        return (
            f"{key} {json.dumps(doc[key])[:80]} is not an ISO 8601 timestamp (e.g. 2025-03-28T09:35:01+00:00, "
            "the form Smartlead sends)"
        )
    return None


SECRET_KEY_VALUE = re.compile(rb'("secret_key"\s*:\s*")(?:[^"\\]|\\.)*(")')
# the keys a payload's time is read from, first present first — the order stg_smartlead__events reads them in
TIME_KEYS = ("event_timestamp", "timestamp", "time_replied", "time_sent", "created_at")
# an ISO 8601 date and time as Smartlead writes them (source_schemas §1.8: 2023-09-25T17:29:11.618881+00:00,
# 2023-09-26T11:16:24.671Z, 2025-03-28T09:35:01+00:00) and as the plan's staging casts them (sf_ts); a time without
# an offset is UTC there
ISO_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)


def _is_timestamp(value) -> bool:
    if not isinstance(value, str) or not ISO_TIMESTAMP.fullmatch(value.strip()):
        return False
    try:  # the form right, the values too (no 2025-02-30, no 25:00)
        datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        return False
    return True


class WebhookApp:
    """A plain ASGI app: POST /smartlead/<secret> or POST /smartlead with the secret header."""

    def __init__(self, spool: Spool, secret: str):
        self.spool, self.secret = spool, secret
        self.accepted = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            return await send({"type": "lifespan.shutdown.complete"})
        headers = dict(scope["headers"])
        too_large = {"error": f"payload too large: a Smartlead event is at most {MAX_BODY >> 20} MiB"}
        if int(headers.get(b"content-length", b"0") or 0) > MAX_BODY:
            return await _answer(send, 413, too_large)
        body, more = b"", True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
            if len(body) > MAX_BODY:
                return await _answer(send, 413, too_large)
        path = scope["path"].rstrip("/")
        if not (path == "/smartlead" or path.startswith("/smartlead/")):
            return await _answer(send, 404, {"error": "POST /smartlead/<secret>"})
        if scope["method"] != "POST":  # RFC 9110 §15.5.6: 405 names the methods the resource takes in Allow
            return await _answer(
                send,
                405,
                {
                    "error": f"HTTP method {scope['method']} is not allowed: Smartlead posts its events "
                    "(POST /smartlead/<secret>)"
                },
                [(b"allow", b"POST")],
            )
        try:
            doc = json.loads(body)
        except ValueError:
            doc = body
        # the secret: in the URL, in a proxy's header, or Smartlead's own `secret_key` in the payload (Webhook Guide,
        # https://help.smartlead.ai/Webhook-Guide-Updated-4d0ae6b2fa6a4db1b4c1ead824a86866: "secret_key")
        signed = doc.get("secret_key") if isinstance(doc, dict) else None
        given = (
            path.removeprefix("/smartlead").lstrip("/")
            or headers.get(HEADER, b"").decode()
            or (signed if isinstance(signed, str) else "")
        )
        # what rejected/ keeps never holds the secret, nor any payload's secret_key (another webhook's, a wrong one)
        kept = SECRET_KEY_VALUE.sub(rb"\1***\2", body.replace(self.secret.encode(), b"***"))
        if not secrets.compare_digest(given.encode(), self.secret.encode()):
            await asyncio.to_thread(self.spool.reject, "wrong or missing webhook secret", kept)
            return await _answer(send, 403, {"error": "wrong or missing webhook secret"})
        declared = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        if declared and declared != "application/json" and not declared.endswith("+json"):
            # Smartlead posts application/json (§1.8); no Content-Type at all is read as JSON (RFC 9110 §8.3)
            reason = f"Content-Type '{declared}' is not application/json: Smartlead posts its events as JSON"
            await asyncio.to_thread(self.spool.reject, reason, kept)
            return await _answer(send, 415, {"error": reason})
        reason = "body is not JSON" if doc is body else problem(doc)
        if reason:
            await asyncio.to_thread(self.spool.reject, reason, kept)
            return await _answer(send, 400, {"error": reason})
        doc.pop("secret_key", None)  # Smartlead's shared secret is not evidence: never spooled or snapshotted
        await asyncio.to_thread(self.spool.accept, doc)
        self.accepted += 1
        await _answer(send, 200, {"ok": True})


async def _answer(send, status: int, doc: dict, extra: list | None = None) -> None:
    body = json.dumps(doc).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            + (extra or []),
        }
    )
    await send({"type": "http.response.body", "body": body})


def webhook_secret(env=None) -> str:
    env = os.environ if env is None else env
    secret = (env.get(SECRET_VAR) or "").strip()
    if len(secret) < 16:
        raise PullError(
            f"{SECRET_VAR} is {'not set' if not secret else 'shorter than 16 characters'}: set it to a "
            "long random value (e.g. `openssl rand -hex 24`) and use it in the webhook URL you give "
            "Smartlead (…/smartlead/<secret>)."
        )
    from ..credentials import register_secret

    register_secret(secret)
    return secret


def serve(spool_dir, port: int = 8787, host: str = "127.0.0.1", env=None, ready=None) -> None:
    """Serve until interrupted (uvicorn); `ready(url)` is called once listening."""
    import uvicorn

    spool = Spool(spool_dir)
    notes = spool.repair()
    app = WebhookApp(spool, webhook_secret(env))
    sockets = listen(host, port)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)

    async def run():
        task = asyncio.create_task(server.serve(sockets))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started and ready:
            sock = server.servers[0].sockets[0].getsockname()
            ready(f"http://{host}:{sock[1]}", notes)
        await task

    asyncio.run(run())


def listen(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to every address of `host` (as asyncio's create_server binds them) for uvicorn to serve on:
    bound here, a busy port is one `Error: …` line and exit 1 (uvicorn logs it, raises SystemExit(3) in a task —
    two tracebacks — and 3 means "stopped cleanly, rerun to resume")."""
    sockets = []
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as e:
        for sock in sockets:
            sock.close()
        raise unbound_port(host, port, e, PullError, options="--port or --host") from e
    return sockets


def check_spool(spool_dir) -> Path:
    spool = Path(spool_dir)
    if not spool.is_dir():
        raise PullError(f"Smartlead webhook spool '{spool}' does not exist: check --spool / RECONCILE_SMARTLEAD_SPOOL.")
    return spool


def mark_pulled(spool_dir, day: str | None) -> None:
    """Remember the last spooled day a snapshot holds: the next pull copies from that day on."""
    if day:
        (Path(spool_dir) / MARKER).write_text(day + "\n")


def delivery_key(line: bytes):
    """What makes two spooled lines one event: (event_type, stats_id, event_timestamp as an instant) where the
    payload has all three (reference/source_schemas.md §1.10 item 12: Smartlead may deliver an event again), else the
    payload itself (keys sorted). A line that is not a JSON object is its own key."""
    try:
        doc = json.loads(line)
    except ValueError:
        return line
    if not isinstance(doc, dict):
        return line
    kind, stats, at = doc.get("event_type") or doc.get("event"), doc.get("stats_id"), doc.get("event_timestamp")
    if kind and stats and isinstance(at, str):
        try:
            instant = datetime.fromisoformat(at.strip().replace("Z", "+00:00"))
            at = instant.astimezone(timezone.utc).isoformat() if instant.tzinfo else at
        except ValueError:
            pass
        return ("event", str(kind).upper(), str(stats), at)
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def copy_events(spool_dir, out_dir, result, progress=None, mark: bool = True) -> str | None:
    """Copy the spooled days since the last pull into OUT/smartlead/events.jsonl (complete lines only); returns
    the last day copied, which `mark` records in the spool (`reconcile pull` marks it once the snapshot is whole).

    The day of the last pull is copied again (it may have grown since): events are idempotent evidence."""
    spool = check_spool(spool_dir)
    marker = spool / MARKER
    since = marker.read_text().strip() if marker.exists() else ""
    days = sorted((m[1], p) for p in spool.glob("events-*.jsonl") if (m := DAY_FILE.search(p.name)) and m[1] >= since)
    lines, torn, seen, repeated = [], 0, set(), 0
    for _, path in days:
        data = path.read_bytes()
        complete, _, tail = data.rpartition(b"\n")
        torn += bool(tail)
        for line in complete.split(b"\n"):
            if not line.strip():
                continue
            key = delivery_key(line)
            if key in seen:
                repeated += 1
                continue
            seen.add(key)
            lines.append(line)
    from ..files import write_atomic

    target = Path(out_dir) / "smartlead" / "events.jsonl"
    for old in target.parent.glob("events*.jsonl"):
        old.unlink()
    if lines:
        write_atomic(target, b"\n".join(lines) + b"\n")
        result.files.append("smartlead/events.jsonl")
    last = days[-1][0] if days else None
    if mark:
        mark_pulled(spool, last)
    result.notes.append(
        f"{len(lines)} webhook events from {len(days)} spooled day(s)"
        + (f"; {repeated} repeated deliveries left out" if repeated else "")
        + (f"; {torn} unacknowledged partial line(s) skipped" if torn else "")
    )
    if progress:
        progress(f"Smartlead: {len(lines)} webhook events")
    return last
