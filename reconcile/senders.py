"""Delivering a composed message: e-mail (SMTP), an incoming webhook, Jira. Secrets come from the environment only.

  e-mail   RECONCILE_SMTP_HOST, RECONCILE_SMTP_PORT (587), RECONCILE_SMTP_STARTTLS (true), RECONCILE_SMTP_USER,
           RECONCILE_SMTP_PASSWORD, RECONCILE_SMTP_FROM (default: the user, else reconcile@<host>)
  webhook  the variable the policy's webhook_env names holds the URL (Slack / Teams Workflows / Google Chat)
  Jira     RECONCILE_JIRA_URL and either RECONCILE_JIRA_EMAIL + RECONCILE_JIRA_API_TOKEN (Jira Cloud, REST v3,
           ADF bodies) or RECONCILE_JIRA_PAT (Jira Data Center, REST v2, personal access token)

Every value read here is registered with credentials.register_secret, so nothing the CLI prints holds it, and
error texts name the variable, never the URL or token. A failure raises DeliveryError (the caller retries once
and otherwise leaves the message queued).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import requests

from .credentials import redact, register_secret
from .errors import ReconcileError

TIMEOUT = (10, 30)


class DeliveryError(ReconcileError):
    """A message could not be delivered; it stays queued for the next run."""


def _env(name: str, secret: bool = False) -> str | None:
    value = os.environ.get(name) or None
    if secret:
        register_secret(value)
    return value


def _truthy(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def send_email(payload: dict, recipients: list[str], message_key: str | None = None) -> str:
    """An RFC 5322 message (Date, Message-ID — `<reconcile.KEY@domain>` for an outbox message, the same on every try,
    so a copy delivered twice is one message to a mail client — UTF-8 parts, the CSV attachments as charset=utf-8)."""
    host = _env("RECONCILE_SMTP_HOST")
    if not host:
        raise DeliveryError(
            "E-mail not configured: set RECONCILE_SMTP_HOST (and RECONCILE_SMTP_PORT, "
            "RECONCILE_SMTP_USER, RECONCILE_SMTP_PASSWORD) — README 'Who gets told what'."
        )
    port = int(_env("RECONCILE_SMTP_PORT") or 587)
    user, password = _env("RECONCILE_SMTP_USER"), _env("RECONCILE_SMTP_PASSWORD", secret=True)
    sender = _env("RECONCILE_SMTP_FROM") or user or f"reconcile@{host}"
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = payload["subject"], sender, ", ".join(recipients)
    domain = sender.rpartition("@")[2].strip(" >") or "reconcile.invalid"
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = f"<reconcile.{message_key}@{domain}>" if message_key else make_msgid("reconcile", domain)
    msg.set_content(payload["text"])
    if payload.get("html"):
        msg.add_alternative(payload["html"], subtype="html")
    for att in payload.get("attachments", []):
        msg.add_attachment(
            att["content"].encode("utf-8"),
            maintype="text",
            subtype=att.get("subtype", "csv"),
            filename=att["name"],
            params={"charset": "utf-8"},
        )
    try:
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            if _truthy(_env("RECONCILE_SMTP_STARTTLS"), default=True):
                smtp.starttls(context=ssl.create_default_context(cafile=_env("RECONCILE_SMTP_CA_BUNDLE")))
            if user and password:
                smtp.login(user, password)
            refused = smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as e:
        raise DeliveryError(
            redact(
                f"SMTP server '{host}:{port}' did not take the message ({type(e).__name__}: "
                f"{str(e)[:200]}). Check RECONCILE_SMTP_*."
            )
        ) from None
    if refused:
        raise DeliveryError(f"SMTP server '{host}:{port}' refused {', '.join(sorted(refused))}.")
    return f"accepted by {host}:{port} for {len(recipients)} recipient(s)"


def send_webhook(payload: dict, env_name: str) -> str:
    url = _env(env_name, secret=True)
    if not url:
        raise DeliveryError(f"Webhook not configured: set {env_name} to the incoming-webhook URL.")
    try:
        r = requests.post(url, json=payload["body"], timeout=TIMEOUT)
    except requests.RequestException as e:
        raise DeliveryError(f"Webhook ${env_name} could not be reached ({type(e).__name__}).") from None
    if not 200 <= r.status_code < 300:
        raise DeliveryError(redact(f"Webhook ${env_name} answered {r.status_code} ({r.text[:120].strip()})."))
    return f"{r.status_code} {r.text[:60].strip()}"


def jira_settings() -> dict:
    """{'url', 'api': 3 (Cloud) or 2 (Data Center), 'auth' or 'headers'}; DeliveryError names what is missing."""
    url = _env("RECONCILE_JIRA_URL")
    email, token, pat = (
        _env("RECONCILE_JIRA_EMAIL"),
        _env("RECONCILE_JIRA_API_TOKEN", secret=True),
        _env("RECONCILE_JIRA_PAT", secret=True),
    )
    if not url:
        raise DeliveryError(
            "Jira not configured: set RECONCILE_JIRA_URL and RECONCILE_JIRA_EMAIL + "
            "RECONCILE_JIRA_API_TOKEN (Jira Cloud) or RECONCILE_JIRA_PAT (Data Center)."
        )
    if pat and (email or token):
        raise DeliveryError(
            "Jira: set RECONCILE_JIRA_PAT (Data Center) or RECONCILE_JIRA_EMAIL + "
            "RECONCILE_JIRA_API_TOKEN (Cloud), not both."
        )
    if pat:
        return {"url": url.rstrip("/"), "api": 2, "headers": {"Authorization": f"Bearer {pat}"}, "auth": None}
    if not (email and token):
        raise DeliveryError("Jira Cloud needs both RECONCILE_JIRA_EMAIL and RECONCILE_JIRA_API_TOKEN.")
    return {"url": url.rstrip("/"), "api": 3, "headers": {}, "auth": (email, token)}


def send_jira(payload: dict, target: str) -> str:
    """payload: {'kind': 'comment', 'adf', 'wiki'} posted on issue `target`, or {'kind': 'issue', 'summary',
    'adf', 'wiki'} created in project `target`."""
    s = jira_settings()
    body = payload["adf"] if s["api"] == 3 else payload["wiki"]
    if payload["kind"] == "comment":
        path, doc = f"/rest/api/{s['api']}/issue/{target}/comment", {"body": body}
    else:
        path = f"/rest/api/{s['api']}/issue"
        doc = {
            "fields": {
                "project": {"key": target},
                "summary": payload["summary"],
                "issuetype": {"name": payload.get("issuetype", "Task")},
                "description": body,
            }
        }
    try:
        r = requests.post(
            s["url"] + path,
            json=doc,
            auth=s["auth"],
            timeout=TIMEOUT,
            headers={**s["headers"], "Accept": "application/json"},
        )
    except requests.RequestException as e:
        raise DeliveryError(f"Jira at $RECONCILE_JIRA_URL could not be reached ({type(e).__name__}).") from None
    if r.status_code != 201:
        raise DeliveryError(
            redact(
                f"Jira answered {r.status_code} to POST {path}: {_jira_error(r)}"
                + (
                    " Check RECONCILE_JIRA_EMAIL / RECONCILE_JIRA_API_TOKEN or RECONCILE_JIRA_PAT."
                    if r.status_code in (401, 403)
                    else ""
                )
            )
        )
    answer = r.json()
    return f"{answer.get('key') or 'comment ' + str(answer.get('id'))}"


def _jira_error(r) -> str:
    try:
        doc = r.json()
    except ValueError:
        return r.text[:120].strip() or r.reason
    msgs = list(doc.get("errorMessages") or []) + [f"{k}: {v}" for k, v in (doc.get("errors") or {}).items()]
    return "; ".join(msgs)[:300] or r.reason
