"""A local SMTP server (aiosmtpd) that keeps what it receives, in the mode reconcile's mail settings default to —
submission with STARTTLS and AUTH (RECONCILE_SMTP_STARTTLS true, RECONCILE_SMTP_USER / _PASSWORD) — or plain.

    with SmtpStandin() as smtp:                              # STARTTLS + AUTH PLAIN/LOGIN, user "reconcile", a new
        ...                                                  # password; smtp.env(): the RECONCILE_SMTP_* that reach it
    with SmtpStandin(starttls=False, user=None) as smtp:     # plain: no TLS, no AUTH (user= alone: AUTH without TLS)
        ...                                                  # smtp.port; smtp.messages: email.message objects

What it speaks, as any SMTP client expects it:
  STARTTLS (RFC 3207, https://www.rfc-editor.org/rfc/rfc3207): advertised in the EHLO answer; until the client has
      started TLS, MAIL / RCPT / DATA are refused (530) and AUTH is not advertised. The certificate is for 127.0.0.1
      and localhost, issued by a local CA made as the sandbox org makes its HTTPS CA (reconcile/sandbox/transport.py
      `load_ca`, trustme); `ca_path` is its PEM (RECONCILE_SMTP_CA_BUNDLE), one CA per process.
  AUTH PLAIN and LOGIN (RFC 4954 https://www.rfc-editor.org/rfc/rfc4954, RFC 4616, draft-murchison-sasl-login):
      a wrong user or password → 535 5.7.8; mail before AUTH → 530 5.7.0 Authentication required.
"""

from __future__ import annotations

import atexit
import email
import email.policy
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import warnings
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# plain mode with a user takes AUTH on loopback without TLS on purpose (tests); aiosmtpd warns about it every session
warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)

_CA_LOCK = threading.Lock()
_CA: tuple | None = None  # (trustme.CA, PEM path): one per process, so a stand-in restarted on a port keeps its CA


def standin_ca() -> tuple:
    """(CA, path of its PEM) for the stand-ins' TLS: made once per process in a temporary folder (removed at exit),
    with the sandbox org's `load_ca`."""
    global _CA
    with _CA_LOCK:
        if _CA is None:
            from ..sandbox.transport import load_ca

            folder = tempfile.mkdtemp(prefix="reconcile-standins-")
            atexit.register(shutil.rmtree, folder, True)
            _CA = load_ca(Path(folder), "standins")
        return _CA


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
    def __init__(
        self,
        user: str | None = "reconcile",
        password: str | None = None,
        port: int = 0,
        starttls: bool = True,
    ):
        self.user = user
        self.password = (password or secrets.token_urlsafe(18)) if user else None
        self.starttls = starttls
        self.handler = _Handler()
        if not port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port = port
        kw = {}
        self.ca_path = None
        if starttls:
            ca, self.ca_path = standin_ca()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            kw = {"tls_context": context, "require_starttls": True}
        if user:
            kw |= {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": starttls}
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port, **kw)
        self.controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and secrets.compare_digest(auth_data.password.decode(), self.password or "")
        )
        # handled=False: aiosmtpd answers a failure with 535 5.7.8 (its default, handled=True, answers nothing and the
        # client waits until it times out)
        return AuthResult(success=ok, handled=False)

    messages = property(lambda self: self.handler.messages)
    envelopes = property(lambda self: self.handler.envelopes)

    def env(self) -> dict[str, str]:
        """The RECONCILE_SMTP_* variables that reach this stand-in in the mode it runs."""
        out = {
            "RECONCILE_SMTP_HOST": "127.0.0.1",
            "RECONCILE_SMTP_PORT": str(self.port),
            "RECONCILE_SMTP_STARTTLS": "true" if self.starttls else "false",
            "RECONCILE_SMTP_FROM": "reconcile@example.com",
        }
        if self.starttls:
            out["RECONCILE_SMTP_CA_BUNDLE"] = self.ca_path
        if self.user:
            out.update({"RECONCILE_SMTP_USER": self.user, "RECONCILE_SMTP_PASSWORD": self.password})
        return out

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
