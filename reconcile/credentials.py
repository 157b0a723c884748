"""Salesforce credentials from environment variables, the HTTP session they travel on, and redaction.

Four ways in, decided by the variables present (README "Connecting to your org"):

  client credentials  SF_LOGIN_URL, SF_CLIENT_ID, SF_CLIENT_SECRET              (recommended)
  JWT bearer          SF_LOGIN_URL, SF_CLIENT_ID, SF_USERNAME, SF_PRIVATE_KEY_FILE
  session             SF_INSTANCE_URL, SF_SESSION_ID                           (expires within hours)
  legacy SOAP login   SF_USERNAME, SF_PASSWORD [, SF_SECURITY_TOKEN] [, SF_DOMAIN or SF_LOGIN_URL]

plus SF_CA_BUNDLE (a CA to trust), SF_API_VERSION (59.0), SF_CONNECT_TIMEOUT (10 s), SF_READ_TIMEOUT (120 s).
With an org name (--org ICARE) every one of them is read as SF_ICARE_… and only so: no fallback to SF_….
Every credential value read here is registered for `redact`, which the CLI applies to all it prints.
"""

from __future__ import annotations

import html
import json
import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import requests

from .errors import SalesforceError

HELP = "see README 'Connecting to your org'"
DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT = 10.0, 120.0
FLOWS = {  # flow -> (required, optional) variable names, without the SF_ / SF_<ORG>_ prefix
    "client_credentials": (("LOGIN_URL", "CLIENT_ID", "CLIENT_SECRET"), ()),
    "jwt": (("LOGIN_URL", "CLIENT_ID", "USERNAME", "PRIVATE_KEY_FILE"), ()),
    "session": (("INSTANCE_URL", "SESSION_ID"), ()),
    "password": (("USERNAME", "PASSWORD"), ("SECURITY_TOKEN", "DOMAIN", "LOGIN_URL")),
}
MARKERS = {
    "CLIENT_SECRET": "client_credentials",
    "PRIVATE_KEY_FILE": "jwt",
    "SESSION_ID": "session",
    "PASSWORD": "password",
    "SECURITY_TOKEN": "password",
}
FLOW_NAMES = {
    "client_credentials": "OAuth 2.0 client credentials",
    "jwt": "OAuth 2.0 JWT bearer",
    "session": "session id",
    "password": "username/password (SOAP login, deprecated)",
}
CREDENTIAL_VARS = (
    "LOGIN_URL",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "USERNAME",
    "PRIVATE_KEY_FILE",
    "INSTANCE_URL",
    "SESSION_ID",
    "PASSWORD",
    "SECURITY_TOKEN",
    "DOMAIN",
)
SECRET_VARS = ("CLIENT_ID", "CLIENT_SECRET", "SESSION_ID", "PASSWORD", "SECURITY_TOKEN")
LEGACY_WARNING = (
    "Warning: SF_USERNAME/SF_PASSWORD log in with the SOAP API login(), which Salesforce removed "
    "from API 65.0 and retires for all versions in Summer '27; switch to client credentials or JWT "
    f"({HELP})."
)

_SECRETS: set[str] = set()
MIN_SECRET = 6


def register_secret(value: str | None) -> None:
    """Remember a credential value so that `redact` removes it (and its URL/HTML/JSON-escaped forms).

    Values shorter than MIN_SECRET characters are not credentials Salesforce issues or accepts (passwords
    have 8+, tokens and secrets dozens); replacing them would garble every message instead."""
    if not value or len(value) < MIN_SECRET:
        return
    for form in (value, quote_plus(value), quote(value, safe=""), html.escape(value), json.dumps(value)[1:-1]):
        _SECRETS.add(form)
    for line in value.splitlines():  # a PEM key: each base64 line on its own
        if len(line.strip()) >= 16:
            _SECRETS.add(line.strip())


def redact(text: str) -> str:
    """`text` with every registered credential value replaced by '***' (longest first)."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


@dataclass
class Credentials:
    flow: str
    prefix: str  # "SF_" or "SF_ICARE_"
    values: dict  # variable name without prefix -> value
    login_url: str | None = None
    instance_url: str | None = None
    ca_bundle: str | None = None
    api_version: str = "59.0"
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def var(self, name: str) -> str:
        return self.prefix + name

    @property
    def flow_name(self) -> str:
        return FLOW_NAMES[self.flow]

    @property
    def host(self) -> str:
        return urlsplit(self.login_url or self.instance_url or "").netloc


def read_credentials(org: str | None = None, env=None) -> Credentials:
    """The credentials of the default org (SF_…) or of `org` (SF_<ORG>_… only); ReconcileError if unusable."""
    env = os.environ if env is None else env
    prefix = f"SF_{org.upper()}_" if org else "SF_"
    values = {
        n: env.get(prefix + n)
        for n in (*CREDENTIAL_VARS, "CA_BUNDLE", "API_VERSION", "CONNECT_TIMEOUT", "READ_TIMEOUT")
    }
    values = {n: v for n, v in values.items() if v}
    for name in SECRET_VARS:
        register_secret(values.get(name))
    flow = _pick_flow(values, prefix, org)
    required, optional = FLOWS[flow]
    missing = [prefix + n for n in required if n not in values]
    if missing:
        raise SalesforceError(
            f"Incomplete Salesforce credentials for {FLOW_NAMES[flow]}{_org_text(org)}: "
            f"{', '.join(missing)} not set. Set {_and(missing)} ({HELP})."
        )
    creds = Credentials(
        flow,
        prefix,
        values,
        api_version=values.get("API_VERSION", "59.0"),
        connect_timeout=_seconds(values, prefix, "CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
        read_timeout=_seconds(values, prefix, "READ_TIMEOUT", DEFAULT_READ_TIMEOUT),
    )
    if "LOGIN_URL" in values:
        creds.login_url = _https_url(values["LOGIN_URL"], prefix + "LOGIN_URL")
    elif flow == "password":
        creds.login_url = f"https://{values.get('DOMAIN', 'login')}.salesforce.com"
    if "INSTANCE_URL" in values:
        creds.instance_url = _https_url(values["INSTANCE_URL"], prefix + "INSTANCE_URL")
    if "CA_BUNDLE" in values:
        creds.ca_bundle = check_ca_bundle(values["CA_BUNDLE"], prefix + "CA_BUNDLE")
    if flow == "jwt":
        register_secret(read_private_key(values["PRIVATE_KEY_FILE"], prefix + "PRIVATE_KEY_FILE"))
    return creds


def _pick_flow(values: dict, prefix: str, org: str | None) -> str:
    flows = sorted({MARKERS[n] for n in values if n in MARKERS})
    given = [n for n in CREDENTIAL_VARS if n in values]
    if not given:
        other = "" if not org else f" (the default org's SF_… variables are never used for --org {org})"
        raise SalesforceError(
            f"No Salesforce credentials in the environment{_org_text(org)}{other}. Set "
            f"{prefix}LOGIN_URL, {prefix}CLIENT_ID and {prefix}CLIENT_SECRET (client credentials), "
            f"or {prefix}LOGIN_URL, {prefix}CLIENT_ID, {prefix}USERNAME and {prefix}PRIVATE_KEY_FILE "
            f"(JWT), or {prefix}INSTANCE_URL and {prefix}SESSION_ID ({HELP})."
        )
    if len(flows) > 1:
        raise SalesforceError(
            f"Ambiguous Salesforce credentials{_org_text(org)}: "
            + " and ".join(
                f"{FLOW_NAMES[f]} ({', '.join(prefix + n for n in given if MARKERS.get(n) == f)})" for f in flows
            )
            + f" are both set. Unset all but one way in ({HELP})."
        )
    if not flows:  # no secret given: say what the variables present are missing
        if "INSTANCE_URL" in values:
            flows = ["session"]
        elif "USERNAME" in values and not {"LOGIN_URL", "CLIENT_ID"} & set(values):
            flows = ["password"]
        elif "USERNAME" in values:
            flows = ["jwt"]
        else:
            raise SalesforceError(
                f"Incomplete Salesforce credentials{_org_text(org)}: {', '.join(prefix + n for n in given)} "
                f"set, but neither {prefix}CLIENT_SECRET (client credentials) nor {prefix}USERNAME "
                f"and {prefix}PRIVATE_KEY_FILE (JWT). Set one of them ({HELP})."
            )
    flow = flows[0]
    required, optional = FLOWS[flow]
    stray = [prefix + n for n in given if n not in required and n not in optional]
    if stray:
        raise SalesforceError(
            f"Ambiguous Salesforce credentials{_org_text(org)}: {FLOW_NAMES[flow]} is set up, but "
            f"{', '.join(stray)} belong to another way in. Unset {_and(stray)} ({HELP})."
        )
    return flow


def _org_text(org: str | None) -> str:
    return f" for org '{org}'" if org else ""


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _seconds(values: dict, prefix: str, name: str, default: float) -> float:
    raw = values.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise SalesforceError(
            f"{prefix}{name} '{raw}' is not a number of seconds between 0 and 3600 (default {default:g})."
        )
    return value


def _https_url(raw: str, var: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme != "https" or not parts.hostname or parts.path.strip("/") or parts.query:
        raise SalesforceError(
            f"{var} '{raw}' is not an https:// host URL such as https://acme.my.salesforce.com "
            f"(no path). Fix {var} ({HELP})."
        )
    return f"https://{parts.netloc}"


def check_ca_bundle(path: str, var: str) -> str:
    """The CA file `path`, refused with one line if it is missing or holds no PEM certificate."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise SalesforceError(
            f"{var} file '{path}' does not exist. Point {var} at the PEM file of the CA to trust "
            "(the sandbox org prints its ca_bundle), or unset it to trust the system CAs."
        )
    try:
        ssl.create_default_context(cafile=str(p))
    except (ssl.SSLError, OSError, ValueError) as e:
        raise SalesforceError(
            f"{var} file '{path}' is not a PEM CA certificate ({e}). Point {var} at the CA's "
            "PEM file, or unset it to trust the system CAs."
        ) from None
    return str(p)


def read_private_key(path: str, var: str) -> str:
    p = Path(path).expanduser()
    try:
        text = p.read_text("ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise SalesforceError(
            f"{var} file '{path}' cannot be read ({type(e).__name__}). Point {var} at the PEM "
            f"private key whose certificate is uploaded to the External Client App ({HELP})."
        ) from None
    if "PRIVATE KEY-----" not in text:
        raise SalesforceError(
            f"{var} file '{path}' is not a PEM private key (no 'BEGIN … PRIVATE KEY' line). "
            f"Point {var} at the key whose certificate is uploaded to the app ({HELP})."
        )
    return text


class TimeoutSession(requests.Session):
    """A requests.Session that gives every request a (connect, read) timeout unless the caller sets one, and counts
    the requests it sends (`sent`: one call into simple-salesforce can be several, e.g. a Bulk API 2.0 query)."""

    def __init__(self, connect: float, read: float):
        super().__init__()
        self.timeout = (connect, read)
        self.sent = 0

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        self.sent += 1
        return super().request(method, url, *args, **kwargs)


def http_session(creds: Credentials) -> TimeoutSession:
    session = TimeoutSession(creds.connect_timeout, creds.read_timeout)
    if creds.ca_bundle:
        session.verify = creds.ca_bundle
        session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override the CA we trust
    return session


def transport_problem(e: requests.RequestException, creds: Credentials, url: str | None = None) -> str:
    """One sentence naming the host, what went wrong on the wire and the fix."""
    host = urlsplit(url or getattr(getattr(e, "request", None), "url", None) or "").netloc or creds.host
    chain = _causes(e)
    if isinstance(e, requests.exceptions.SSLError):
        ca = creds.var("CA_BUNDLE")
        return (
            f"TLS to '{host}' failed ({_ssl_reason(chain)}). If the host is right, set {ca} to the CA that "
            f"signed its certificate (a corporate proxy's or the sandbox org's), or unset {ca} for the system CAs"
        )
    if any(
        type(c).__name__ == "NameResolutionError"
        or "Name or service not known" in str(c)
        or "nodename nor servname" in str(c)
        or "Temporary failure in name resolution" in str(c)
        for c in chain
    ):
        return (
            f"the host '{host}' cannot be found (DNS). Check {_url_var(creds)} (e.g. your My Domain URL "
            f"https://acme.my.salesforce.com) and the network"
        )
    if isinstance(e, requests.exceptions.ConnectTimeout):
        return (
            f"no connection to '{host}' within {creds.connect_timeout:g} s (connect timeout). Check the network, "
            f"proxy and firewall, or raise {creds.var('CONNECT_TIMEOUT')}"
        )
    if isinstance(e, requests.exceptions.ReadTimeout):
        used = re.search(r"timeout=([\d.]+)", str(e))
        seconds = float(used.group(1)) if used else creds.read_timeout
        if seconds == creds.connect_timeout != creds.read_timeout:  # urllib3 times the TLS handshake so
            return (
                f"'{host}' accepted the connection but did not complete the TLS handshake within {seconds:g} s "
                f"(connect timeout). Check the host and proxy, or raise {creds.var('CONNECT_TIMEOUT')}"
            )
        return (
            f"'{host}' accepted the connection but sent no answer within {seconds:g} s (read timeout)."
            f" Try again later, or raise {creds.var('READ_TIMEOUT')}"
        )
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return f"'{host}' refused the connection. Check {_url_var(creds)} and that the host is up"
    return f"the connection to '{host}' failed ({type(chain[-1]).__name__}). Check {_url_var(creds)} and the network"


def _url_var(creds: Credentials) -> str:
    return creds.var(
        "INSTANCE_URL"
        if creds.flow == "session"
        else "LOGIN_URL"
        if "LOGIN_URL" in creds.values or creds.flow != "password"
        else "DOMAIN"
    )


def _causes(e: BaseException) -> list[BaseException]:
    seen, todo = [], [e]
    while todo:
        cur = todo.pop()
        if cur is None or any(cur is s for s in seen):
            continue
        seen.append(cur)
        todo += [cur.__cause__, cur.__context__]
        todo += [r for r in (getattr(cur, "reason", None),) if isinstance(r, BaseException)]
        todo += [a for a in getattr(cur, "args", ()) if isinstance(a, BaseException)]
    return seen


def _ssl_reason(chain: list[BaseException]) -> str:
    for c in chain:
        if isinstance(c, ssl.SSLCertVerificationError):
            return f"certificate not trusted: {c.verify_message}"
    for c in chain:
        if isinstance(c, ssl.SSLError):
            return c.reason or type(c).__name__
    return "handshake failed"


def is_unsent(e: requests.RequestException) -> bool:
    """True when the request cannot have reached the server (so resending it is always safe)."""
    if isinstance(e, requests.exceptions.ConnectTimeout):
        return True
    return any(
        type(c).__name__ in ("NewConnectionError", "NameResolutionError") or isinstance(c, ConnectionRefusedError)
        for c in _causes(e)
    )
