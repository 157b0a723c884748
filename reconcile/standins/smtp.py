"""A local SMTP server (aiosmtpd) that keeps what it receives; optional AUTH LOGIN/PLAIN with one user.

with SmtpStandin(user="reconcile", password="…") as smtp:     # smtp.port; smtp.messages: email.message objects
    ...
"""

from __future__ import annotations

import email
import email.policy
import secrets
import socket
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


# the stand-in takes AUTH on loopback without TLS on purpose (tests); aiosmtpd warns about it on every session
warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)


class _Handler:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos)})
        self.messages.append(
            email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"


class SmtpStandin:
    def __init__(self, user: str | None = None, password: str | None = None, port: int = 0):
        self.user, self.password = user, password
        self.handler = _Handler()
        if not port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port = port
        kw = {}
        if user:
            kw = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port, **kw)
        self.controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and secrets.compare_digest(auth_data.password.decode(), self.password or "")
        )
        return AuthResult(success=ok)

    messages = property(lambda self: self.handler.messages)
    envelopes = property(lambda self: self.handler.envelopes)

    def env(self) -> dict[str, str]:
        out = {
            "RECONCILE_SMTP_HOST": "127.0.0.1",
            "RECONCILE_SMTP_PORT": str(self.port),
            "RECONCILE_SMTP_STARTTLS": "false",
            "RECONCILE_SMTP_FROM": "reconcile@example.com",
        }
        if self.user:
            out.update({"RECONCILE_SMTP_USER": self.user, "RECONCILE_SMTP_PASSWORD": self.password})
        return out

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
