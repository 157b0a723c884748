"""OAuth 2.0 of the sandbox org: one registered External Client App, its token endpoint and expiring tokens.

`POST /services/oauth2/token` answers as Salesforce documents it:
- client credentials: https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm
  (grant_type=client_credentials; client_id/client_secret in the form body or as HTTP Basic; the token runs
  as the app's "Run As" user; answer access_token, signature, scope, instance_url, id, token_type, issued_at);
- JWT bearer: https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_jwt_flow.htm
  (grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion = RS256 JWT signed with the key of the
  certificate uploaded to the app; iss = consumer key, sub = a pre-authorized username, aud = the login URL,
  exp = seconds since the epoch, in the future; the answer carries no refresh token);
- errors: https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_flow_errors.htm — HTTP 400,
  JSON {"error", "error_description"} (RFC 6749 §5.2, RFC 7523 §3.1): invalid_client_id, invalid_client,
  invalid_grant, unsupported_grant_type.
Issued tokens expire after `Org.token_ttl` seconds (a real org's session timeout, 2 hours by default) or when
the user's sessions are expired (fault `expire_after_calls`); then the REST API answers 401 INVALID_SESSION_ID.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .web import Request, Response

ORG_ID = "00D8d0000000SbxEAE"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def new_app(run_as: str, cert_pem: str) -> dict:
    """The registered app: consumer key and secret, client-credentials Run As user, JWT certificate."""
    return {
        "name": "Reconcile_Integration",
        "client_id": "3MVG9" + secrets.token_urlsafe(60).replace("-", "x"),
        "client_secret": secrets.token_hex(32).upper(),
        "run_as": run_as,
        "pre_authorized": [run_as],
        "certificate": cert_pem,
    }


def load_jwt_key(directory: Path, stem: str) -> tuple[str, str]:
    """(private key file, certificate PEM) for the app: created once next to the state, reused afterwards."""
    key_path, cert_path = directory / f"{stem}.jwt-key.pem", directory / f"{stem}.jwt-cert.pem"
    if key_path.exists() and cert_path.exists():
        return str(key_path), cert_path.read_text("ascii")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reconcile sandbox integration")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    cert_path.write_text(cert_pem, "ascii")
    return str(key_path), cert_pem


class OAuthError(Exception):
    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error, self.description = error, description


def _json(value: dict, status: int = 200) -> Response:
    # token answers are compact JSON and must not be cached (RFC 6749 §5.1)
    return Response(
        status,
        json.dumps(value, separators=(",", ":")).encode(),
        "application/json;charset=UTF-8",
        {"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private", "Pragma": "no-cache"},
    )


def token(req: Request) -> Response:
    """POST /services/oauth2/token (form-encoded). Unauthenticated: the grant itself is the credential."""
    form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    try:
        grant = form.get("grant_type")
        if grant == "client_credentials":
            user, app = _client_credentials(req, form)
        elif grant == JWT_GRANT:
            user, app = _jwt_bearer(req.org, form.get("assertion", ""))
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
    except OAuthError as err:
        return _json({"error": err.error, "error_description": err.description}, 400)
    access_token = req.org.issue_token(user.key)
    identity = f"{req.org.login_url}/id/{ORG_ID}/{user.user_id}"
    issued_at = str(int(time.time() * 1000))
    # signature: Base64 HMAC-SHA256 of id + issued_at, keyed with the consumer secret (Salesforce's token docs)
    signature = base64.b64encode(
        hmac.new(app["client_secret"].encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
    ).decode()
    return _json(
        {
            "access_token": access_token,
            "signature": signature,
            "scope": "api",
            "instance_url": req.org.login_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
    )


def _client_credentials(req: Request, form: dict):
    client_id, secret = form.get("client_id"), form.get("client_secret")
    auth = req.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "invalid client credentials") from None
    app = _app(req.org, client_id)
    if not secret or not hmac.compare_digest(secret.encode(), app["client_secret"].encode()):
        raise OAuthError("invalid_client", "invalid client credentials")
    if not app.get("run_as"):
        raise OAuthError("invalid_grant", "no client credentials user enabled")
    return req.org.user(app["run_as"]), app


def _app(org, client_id: str | None) -> dict:
    app = org.app
    if not client_id or not app or not hmac.compare_digest(client_id.encode(), app["client_id"].encode()):
        raise OAuthError("invalid_client_id", "client identifier invalid")
    return app


def _jwt_bearer(org, assertion: str):
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    app = _app(org, claims.get("iss"))
    certificate = x509.load_pem_x509_certificate(app["certificate"].encode())
    try:  # exp is checked below: simple-salesforce sends it as a string, which Salesforce accepts
        jwt.decode(
            assertion,
            certificate.public_key(),
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
    if not any(isinstance(a, str) and a.rstrip("/") == org.login_url for a in audiences):
        raise OAuthError("invalid_grant", "audience is invalid")
    try:
        expires = float(claims.get("exp"))
    except (TypeError, ValueError):
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if expires <= time.time():
        raise OAuthError("invalid_grant", "expired authorization code")
    user = next((u for u in org.users if u.username == claims.get("sub")), None)
    if user is None or user.key not in app.get("pre_authorized", []):
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    return user, app
