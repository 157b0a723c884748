"""An incoming-webhook receiver answering like Slack, Microsoft Teams (Workflows) and Google Chat.

with WebhookStandin() as hooks:
    hooks.url_for("slack")          # http://127.0.0.1:PORT/slack/T000/B000/<secret>
    hooks.received                  # [{"format", "path", "json"}]
    hooks.fail_next(500)
"""

from __future__ import annotations

import json
import secrets
import threading
from datetime import datetime, timezone

import tornado.web

from .http import Served, ServiceHandler, not_found_handler


def refusal(fmt: str, status: int, text: str):
    """An error in the format's own shape: Slack a plain-text code, Google Chat the Google API error envelope
    (https://cloud.google.com/apis/design/errors#http_mapping), Teams Workflows a Logic Apps error."""
    if fmt == "slack":
        return text
    if fmt == "google_chat":
        kind = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 405: "UNIMPLEMENTED"}.get(status, "UNAVAILABLE")
        return {"error": {"code": status, "message": text, "status": kind}}
    kind = {400: "TriggerInputSchemaMismatch", 404: "WorkflowNotFound", 405: "TriggerRequestMethodNotValid"}
    return {"error": {"code": kind.get(status, "ServiceError"), "message": text}}


class Hook(ServiceHandler):
    def initialize(self, standin: "WebhookStandin", fmt: str | None = None):
        self.standin = standin
        # a path no route matches (the app's default handler) is refused in the shape of the service it is under
        top = self.request.path.split("/")[1]
        self.fmt = fmt or next((f for f, p in WebhookStandin.PATHS.items() if p.split("/")[1] == top), "")

    def error_body(self, status: int, message: str):
        # a path no webhook has: Slack's no_service (404) as documented on the page above _slack; a GET to a webhook
        # URL: ⚠ inferred, Slack's invalid_payload and the Teams / Google Chat errors for a method they do not take
        if self.fmt == "slack":
            return "no_service" if status == 404 else "invalid_payload"
        return refusal(self.fmt or "google_chat", status, message)

    def post(self, secret):
        st = self.standin
        if not secrets.compare_digest(secret, st.secret):
            return self._refuse(404, "no_service")  # Slack: unknown or revoked webhook URL
        with st.lock:
            fault = st.faults.pop(0) if st.faults else None
        if fault:
            return self._refuse(fault, "Injected fault")
        body = self.request.body or b""
        if self.fmt == "slack" and self.request.headers.get("Content-Type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            # Slack's legacy form: payload=<the JSON> (https://api.slack.com/legacy/custom-integrations/messaging/webhooks)
            body = self.get_body_argument("payload", "").encode()
        try:
            doc = json.loads(body)
        except ValueError:
            return self._refuse(400, "invalid_payload")
        getattr(self, f"_{self.fmt}")(doc)

    def _refuse(self, status: int, text: str):
        self.set_status(status)
        body = refusal(self.fmt, status, text)
        if isinstance(body, str):
            self.set_header("Content-Type", "text/plain")
        return self.finish(body)

    def _keep(self, doc):
        with self.standin.lock:
            self.standin.received.append({"format": self.fmt, "path": self.request.path, "json": doc})

    # Slack incoming webhooks: POST JSON {"text": …} (or blocks) → 200, body "ok" as text/plain; errors are
    # plain-text codes such as invalid_payload / no_text with HTTP 400.
    #   https://api.slack.com/messaging/webhooks#handling_errors
    def _slack(self, doc):
        # text, blocks or legacy attachments each make a message
        #   https://api.slack.com/reference/messaging/attachments
        if not isinstance(doc, dict) or not (doc.get("text") or doc.get("blocks") or doc.get("attachments")):
            return self._refuse(400, "no_text")
        self._keep(doc)
        self.set_header("Content-Type", "text/plain")
        self.finish("ok")

    # Teams: a Workflows "When a Teams webhook request is received" trigger takes {"type": "message",
    # "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": {AdaptiveCard}}]}
    # and answers 202 Accepted with an empty body.
    #   https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
    def _teams(self, doc):
        atts = doc.get("attachments") if isinstance(doc, dict) else None
        ok = (
            isinstance(atts, list)
            and atts
            and all(
                isinstance(a, dict)
                and a.get("contentType") == "application/vnd.microsoft.card.adaptive"
                and isinstance(a.get("content"), dict)
                and a["content"].get("type") == "AdaptiveCard"
                for a in atts
            )
        )
        if not ok:
            return self._refuse(400, "The input body for trigger 'manual' of type 'Request' did not match its schema.")
        self._keep(doc)
        self.set_status(202)
        self.finish()

    # Google Chat incoming webhook: POST …/v1/spaces/{space}/messages?key=…&token=… with {"text": …} →
    # 200 and the created Message resource.
    #   https://developers.google.com/workspace/chat/quickstart/webhooks
    def _google_chat(self, doc):
        if not isinstance(doc, dict) or not (doc.get("text") or doc.get("cardsV2")):
            return self._refuse(400, "Message cannot be empty. Discarded message has no text or cards.")
        self._keep(doc)
        n = len(self.standin.received)
        self.finish(
            {
                "name": f"spaces/AAAA/messages/m{n}",
                "text": doc.get("text", ""),
                "createTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
                "space": {"name": "spaces/AAAA"},
            }
        )


class WebhookStandin(Served):
    PATHS = {"slack": "/slack/T000/B000/", "teams": "/teams/workflows/", "google_chat": "/chat/v1/spaces/AAAA/m/"}

    def __init__(self, port: int = 0):
        self.secret = secrets.token_urlsafe(18)
        self.received: list[dict] = []
        self.faults: list[int] = []
        self.lock = threading.Lock()
        app = tornado.web.Application(
            [(prefix + r"([^/]+)", Hook, {"standin": self, "fmt": fmt}) for fmt, prefix in self.PATHS.items()],
            default_handler_class=not_found_handler(Hook),
            default_handler_args={"standin": self},
        )
        super().__init__(app, port)

    def url_for(self, fmt: str) -> str:
        return f"{self.url}{self.PATHS[fmt]}{self.secret}"

    def fail_next(self, status: int, times: int = 1) -> None:
        with self.lock:
            self.faults += [status] * times
