"""Logging in (client credentials, JWT bearer, session, legacy), per-org credentials, timeouts, clean errors,
redaction — through the CLI and unmodified simple-salesforce over real HTTPS to the sandbox org."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
import requests
import trustme
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from conftest import HANDMADE

from reconcile.cli import app
from reconcile.errors import SalesforceError
from reconcile.plan import load_plan
from reconcile.salesforce import connect
from reconcile.sandbox import start_sandbox
from reconcile.seeding import seed_org

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture(autouse=True)
def no_sf_variables(monkeypatch):
    """Only what a test sets: no SF_… variable of the machine running the tests leaks in."""
    import os

    for name in [n for n in os.environ if n.startswith("SF_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def org():
    h = start_sandbox()
    seed_org(h.org, HANDMADE)
    yield h
    h.stop()


def cli(env: dict, *args):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def flow_env(h, flow: str) -> dict:
    if flow == "session":
        return {"SF_INSTANCE_URL": h.instance_url, "SF_SESSION_ID": h.session_id, "SF_CA_BUNDLE": h.ca_bundle}
    return h.oauth_env(flow)


def tls_session(h) -> requests.Session:
    s = requests.Session()
    s.verify, s.trust_env = h.ca_bundle, False
    return s


def integration_writes(h) -> list[tuple[str, str]]:
    user = h.org.user("integration").username
    return sorted((r["id"], r["field"]) for r in h.org.field_history if r["user"] == user)


def pulled_plan(h, env: dict, tmp_path: Path) -> Path:
    snap, plan = tmp_path / "snap", tmp_path / "plan.json"
    r = cli(env, "pull", "--out", snap)
    assert r.exit_code == 0, r.stderr
    for sub in ("clay", "smartlead", "pardot"):
        shutil.copytree(HANDMADE / sub, snap / sub)
    assert cli({}, "plan", snap, "--out", plan).exit_code == 0
    assert cli({}, "approve", plan, "--by", "Ana Admin").exit_code == 0
    return plan


def ready_changes(plan: Path) -> list[tuple[str, str]]:
    return sorted((c["record_id"], c["field"]) for c in load_plan(plan)["changes"] if c["status"] == "ready")


# ------------------------------------------------------------------------------------------ each flow end to end


@pytest.mark.parametrize("flow", ["client_credentials", "jwt", "session", "password"])
def test_each_flow_pulls_plans_approves_and_applies(org, tmp_path, flow):
    env = flow_env(org, flow)
    plan = pulled_plan(org, env, tmp_path)
    r = cli(env, "apply", plan)
    assert r.exit_code == 0, r.stderr
    assert ready_changes(plan) and integration_writes(org) == ready_changes(plan)
    login = {"session": None, "password": "/services/Soap/u/59.0"}.get(flow, "/services/oauth2/token")
    logins = [x for x in org.org.request_log if x["path"] == login]
    assert len(logins) == (0 if flow == "session" else 2)  # one login per command (pull, apply), no more
    assert ("Warning" in r.stderr) == (flow == "password")  # the legacy login warns


@pytest.mark.parametrize("flow", ["client_credentials", "jwt", "password"])
def test_preflight_prints_the_flow_and_the_user_it_resolved_to(org, flow):
    r = cli(flow_env(org, flow), "preflight")
    assert r.exit_code == 0, r.stdout + r.stderr
    name = {
        "client_credentials": "OAuth 2.0 client credentials",
        "jwt": "OAuth 2.0 JWT bearer",
        "password": "username/password (SOAP login, deprecated)",
    }[flow]
    user = org.org.user("integration")
    assert r.stdout.splitlines()[0] == (
        f"Logged in with {name} as {user.username} ({user.user_id}) at {org.instance_url}"
    )


# ------------------------------------------------------------------------------------------ expiry during a run


@pytest.mark.parametrize("flow", ["client_credentials", "jwt", "password"])
def test_token_expiring_mid_apply_logs_in_again_once_and_finishes(org, tmp_path, flow):
    env = flow_env(org, flow)
    plan = pulled_plan(org, env, tmp_path)
    start = len(org.org.request_log)
    org.org.set_faults(expire_after_calls=5)  # describe ×2, re-read ×2, first PATCH; the next request gets 401
    r = cli(env, "apply", plan)
    assert r.exit_code == 0, r.stderr
    log = [(x["method"], x["path"], x["status"]) for x in org.org.request_log[start:]]
    assert [x for x in log if x[2] == 401] == [("PATCH", "/services/data/v59.0/composite/sobjects", 401)]
    after_401 = log[log.index(("PATCH", "/services/data/v59.0/composite/sobjects", 401)) + 1 :]
    login = "/services/Soap/u/59.0" if flow == "password" else "/services/oauth2/token"
    assert after_401[0] == ("POST", login, 200)
    assert after_401[1] == ("PATCH", "/services/data/v59.0/composite/sobjects", 200)
    assert integration_writes(org) == ready_changes(plan)


@pytest.mark.parametrize("flow", ["client_credentials", "jwt", "password"])
def test_token_expiring_mid_pull_logs_in_again_and_pulls_everything(org, tmp_path, flow):
    org.org.set_faults(expire_after_calls=3)  # Lead describe, count, query; then Contact's describe gets 401
    r = cli(flow_env(org, flow), "pull", "--out", tmp_path / "snap")
    assert r.exit_code == 0, r.stderr
    assert "Pulled Lead 4, CampaignMember 2, Contact 1, Campaign 1" in r.stdout
    login = "/services/Soap/u/59.0" if flow == "password" else "/services/oauth2/token"
    assert [x["status"] for x in org.org.request_log if x["path"] == login] == [200, 200]
    assert [x["status"] for x in org.org.request_log].count(401) == 1


def test_token_past_its_lifetime_is_renewed_by_the_client(tmp_path):
    with start_sandbox(token_ttl=0.3) as h:
        client = connect(env=h.oauth_env())
        assert client.count("Lead") == 0
        time.sleep(0.4)
        assert client.count("Lead") == 0
        assert client.reauths == 1
        assert [x["status"] for x in h.org.request_log if "/query" in x["path"]] == [200, 401, 200]


def test_a_pasted_session_expiring_mid_apply_stops_cleanly_with_exit_3(org, tmp_path):
    env = flow_env(org, "session")
    plan = pulled_plan(org, env, tmp_path)
    org.org.set_faults(expire_after_calls=5)
    r = cli(env, "apply", plan)
    assert r.exit_code == 3
    assert r.stderr.startswith("Error: Salesforce session expired during the run (INVALID_SESSION_ID)")


def test_a_bogus_session_at_the_start_is_a_credentials_error_not_a_resumable_stop(org):
    env = {**flow_env(org, "session"), "SF_SESSION_ID": "00D000000000001!bogus"}
    r = cli(env, "preflight")
    assert r.exit_code == 1
    assert r.stderr == (
        "Error: Salesforce rejected the session id (INVALID_SESSION_ID) at the start: SF_SESSION_ID "
        "is wrong or has expired. Set a current one, or better use client credentials (see README "
        "'Connecting to your org').\n"
    )


# ------------------------------------------------------------------------------------------ refused logins


def test_wrong_client_secret_is_one_error_line(org):
    r = cli({**org.oauth_env(), "SF_CLIENT_SECRET": "not-the-secret"}, "pull", "--out", "never")
    assert r.exit_code == 1
    assert r.stderr == (
        f"Error: Salesforce refused the OAuth 2.0 client credentials login at '127.0.0.1:{org.port}' "
        "(invalid_client: invalid client credentials): check SF_CLIENT_ID and SF_CLIENT_SECRET (the "
        "app's consumer key and secret) and SF_LOGIN_URL (see README 'Connecting to your org').\n"
    )
    assert not Path("never").exists()


def test_wrong_password_is_one_error_line_after_the_legacy_warning(org):
    r = cli({**org.oauth_env("password"), "SF_PASSWORD": "not-the-password"}, "preflight")
    assert r.exit_code == 1
    warning, error = r.stderr.splitlines()
    assert warning.startswith("Warning: SF_USERNAME/SF_PASSWORD log in with the SOAP API login()")
    assert error == (
        "Error: Salesforce refused the username/password (SOAP login, deprecated) login at "
        f"'127.0.0.1:{org.port}' (INVALID_LOGIN: Invalid username, password, security token; or user locked "
        "out.): check SF_USERNAME, SF_PASSWORD and SF_SECURITY_TOKEN, or better switch to client credentials "
        "(see README 'Connecting to your org')."
    )
    assert "not-the-password" not in r.stdout + r.stderr


def soap_login(h, username: str, password: str, version: str = "59.0") -> requests.Response:
    """The partner-WSDL login() envelope any SOAP client sends (SOAP API Developer Guide, login())."""
    from xml.sax.saxutils import escape

    envelope = (
        '<?xml version="1.0" encoding="utf-8" ?><env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>{escape(username)}</n1:username>'
        f"<n1:password>{escape(password)}</n1:password></n1:login></env:Body></env:Envelope>"
    )
    return tls_session(h).post(
        f"{h.login_url}/services/Soap/u/{version}",
        data=envelope.encode(),
        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"},
    )


def soap_values(r: requests.Response) -> dict:
    import xml.etree.ElementTree as ET

    return {el.tag.rpartition("}")[2]: (el.text or "") for el in ET.fromstring(r.content).iter()}


def test_legacy_soap_login_answers_a_plain_soap_client_like_salesforce(org):
    user = org.org.user("integration")
    r = soap_login(org, user.username, user.password + user.security_token)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/xml;charset=UTF-8"
    result = soap_values(r)
    assert result["serverUrl"] == f"{org.instance_url}/services/Soap/u/59.0/00D8d0000000SbxEAE"
    assert result["metadataServerUrl"] == f"{org.instance_url}/services/Soap/m/59.0/00D8d0000000SbxEAE"
    assert (result["userId"], result["userName"], result["passwordExpired"]) == (user.user_id, user.username, "false")
    leads = tls_session(org).get(
        f"{org.instance_url}/services/data/v59.0/query",
        params={"q": "SELECT Id FROM Lead"},
        headers={"Authorization": f"Bearer {result['sessionId']}"},
    )
    assert leads.json()["totalSize"] == 4


@pytest.mark.parametrize(
    "login, code",
    [
        (lambda u: (u.username, u.password + "x" + u.security_token), "INVALID_LOGIN"),
        (lambda u: (u.username, u.password), "INVALID_LOGIN"),  # 127.0.0.1 is no trusted IP: the token is needed
        (lambda u: ("nobody@sandbox.reconcile.example", u.password + u.security_token), "INVALID_LOGIN"),
    ],
)
def test_legacy_soap_login_refusals_are_login_faults(org, login, code):
    r = soap_login(org, *login(org.org.user("integration")))
    assert r.status_code == 500 and r.headers["Content-Type"] == "text/xml;charset=UTF-8"
    fault = soap_values(r)
    assert fault["faultcode"] == f"sf:{code}" and fault["exceptionCode"] == code
    assert fault["exceptionMessage"] == "Invalid username, password, security token; or user locked out."
    assert fault["faultstring"] == f"{code}: {fault['exceptionMessage']}"


def test_legacy_soap_login_is_not_available_from_api_65(org):
    user = org.org.user("integration")
    r = soap_login(org, user.username, user.password + user.security_token, version="65.0")
    assert r.status_code == 500
    assert soap_values(r)["exceptionCode"] == "UNSUPPORTED_API_VERSION"


def other_key(tmp_path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "other.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def test_jwt_signed_with_another_key_is_refused(org, tmp_path):
    r = cli({**org.oauth_env("jwt"), "SF_PRIVATE_KEY_FILE": str(other_key(tmp_path))}, "preflight")
    assert r.exit_code == 1
    assert r.stderr.startswith(
        "Error: Salesforce refused the OAuth 2.0 JWT bearer login at "
        f"'127.0.0.1:{org.port}' (invalid_grant: invalid assertion): check that "
        "SF_PRIVATE_KEY_FILE matches the certificate uploaded to the app"
    )


def assertion(h, key_file, **claims) -> str:
    body = {"iss": h.client_id, "sub": h.username, "aud": h.login_url, "exp": int(time.time()) + 180, **claims}
    return jwt.encode(body, Path(key_file).read_text(), algorithm="RS256")


@pytest.mark.parametrize(
    "claims, description",
    [
        ({"exp": int(time.time()) - 10}, "expired authorization code"),
        ({"aud": "https://login.salesforce.com"}, "audience is invalid"),
        ({"sub": "admin@sandbox.reconcile.example"}, "user hasn't approved this consumer"),
    ],
)
def test_token_endpoint_refuses_bad_assertions_like_salesforce(org, claims, description):
    r = tls_session(org).post(
        f"{org.login_url}/services/oauth2/token",
        data={"grant_type": JWT_GRANT, "assertion": assertion(org, org.jwt_key_file, **claims)},
    )
    assert (r.status_code, r.json()) == (400, {"error": "invalid_grant", "error_description": description})
    assert r.headers["Content-Type"] == "application/json;charset=UTF-8"


def test_token_endpoint_refuses_unknown_clients_and_grants(org):
    s, url = tls_session(org), f"{org.login_url}/services/oauth2/token"
    assert s.post(
        url, data={"grant_type": "client_credentials", "client_id": "3MVGnope", "client_secret": "x"}
    ).json() == {"error": "invalid_client_id", "error_description": "client identifier invalid"}
    assert s.post(url, data={"grant_type": "password"}).json()["error"] == "unsupported_grant_type"
    forged = jwt.encode(
        {"iss": org.client_id, "sub": org.username, "aud": org.login_url, "exp": 9999999999},
        "a shared secret is not the app's certificate",
        algorithm="HS256",
    )
    assert s.post(url, data={"grant_type": JWT_GRANT, "assertion": forged}).json()["error"] == "invalid_grant"


def test_any_oauth_client_gets_a_salesforce_shaped_token_with_plain_requests(org):
    """Form-encoded body with client_id/client_secret, as in Salesforce's client credentials docs."""
    s = tls_session(org)
    r = s.post(
        f"{org.login_url}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": org.client_id, "client_secret": org.client_secret},
    )
    assert r.status_code == 200 and r.headers["Cache-Control"].startswith("no-cache")
    body = r.json()
    assert sorted(body) == ["access_token", "id", "instance_url", "issued_at", "scope", "signature", "token_type"]
    assert body["token_type"] == "Bearer" and body["instance_url"] == org.instance_url
    user = org.org.user("integration")
    assert body["id"] == f"{org.login_url}/id/00D8d0000000SbxEAE/{user.user_id}"
    import base64
    import hashlib
    import hmac

    expected = hmac.new(org.client_secret.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256)
    assert body["signature"] == base64.b64encode(expected.digest()).decode()
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    info = s.get(f"{body['instance_url']}/services/oauth2/userinfo", headers=auth).json()
    assert info["preferred_username"] == user.username and info["user_id"] == user.user_id
    leads = s.get(
        f"{body['instance_url']}/services/data/v59.0/query", params={"q": "SELECT Id FROM Lead"}, headers=auth
    ).json()
    assert leads["totalSize"] == 4


# ------------------------------------------------------------------------------------------ which variables


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            {"SF_ICARE_INSTANCE_URL": "https://icare.my.salesforce.com"},
            "Error: Incomplete Salesforce credentials for session id for org 'ICARE': SF_ICARE_SESSION_ID not set. Set "
            "SF_ICARE_SESSION_ID (see README 'Connecting to your org').\n",
        ),
        (
            {"SF_ICARE_LOGIN_URL": "https://icare.my.salesforce.com", "SF_ICARE_CLIENT_SECRET": "s"},
            "Error: Incomplete Salesforce credentials for OAuth 2.0 client credentials for org 'ICARE': SF_ICARE_CLIENT_ID "
            "not set. Set SF_ICARE_CLIENT_ID (see README 'Connecting to your org').\n",
        ),
        (
            {},
            "Error: No Salesforce credentials in the environment for org 'ICARE' (the default org's SF_… variables are "
            "never used for --org ICARE). Set SF_ICARE_LOGIN_URL, SF_ICARE_CLIENT_ID and SF_ICARE_CLIENT_SECRET (client "
            "credentials), or SF_ICARE_LOGIN_URL, SF_ICARE_CLIENT_ID, SF_ICARE_USERNAME and SF_ICARE_PRIVATE_KEY_FILE "
            "(JWT), or SF_ICARE_INSTANCE_URL and SF_ICARE_SESSION_ID (see README 'Connecting to your org').\n",
        ),
    ],
)
def test_a_partial_org_set_never_falls_back_to_the_default_org(org, tmp_path, extra, message):
    env = {**flow_env(org, "session"), **org.oauth_env(), **extra}
    del env["SF_SESSION_ID"]  # the default org: complete client credentials
    start = len(org.org.request_log)
    r = cli(env, "pull", "--org", "ICARE", "--policy", "reconcile/default_policy.toml", "--out", tmp_path / "s")
    assert (r.exit_code, r.stderr) == (1, message)
    assert org.org.request_log[start:] == []  # nothing was sent anywhere


def test_a_complete_org_set_is_used_alone(org, tmp_path):
    env = {
        **org.oauth_env("jwt", prefix="SF_ICARE_"),
        "SF_CLIENT_SECRET": "default-org-secret",
        "SF_SESSION_ID": "default-org-session",
    }
    r = cli(env, "preflight", "--org", "ICARE", "--policy", "reconcile/default_policy.toml")
    assert r.stdout.startswith("Logged in with OAuth 2.0 JWT bearer as clay.integration@")


@pytest.mark.parametrize(
    "env, message",
    [
        (
            {"SF_CLIENT_SECRET": "s", "SF_SESSION_ID": "x", "SF_INSTANCE_URL": "https://a.my.salesforce.com"},
            "Error: Ambiguous Salesforce credentials: OAuth 2.0 client credentials (SF_CLIENT_SECRET) and session id "
            "(SF_SESSION_ID) are both set. Unset all but one way in (see README 'Connecting to your org').\n",
        ),
        (
            {
                "SF_LOGIN_URL": "https://a.my.salesforce.com",
                "SF_CLIENT_ID": "c",
                "SF_CLIENT_SECRET": "s",
                "SF_USERNAME": "u@x.test",
            },
            "Error: Ambiguous Salesforce credentials: OAuth 2.0 client credentials is set up, but SF_USERNAME belong to "
            "another way in. Unset SF_USERNAME (see README 'Connecting to your org').\n",
        ),
        (
            {"SF_LOGIN_URL": "https://a.my.salesforce.com", "SF_CLIENT_ID": "c", "SF_USERNAME": "u@x.test"},
            "Error: Incomplete Salesforce credentials for OAuth 2.0 JWT bearer: SF_PRIVATE_KEY_FILE not set. Set "
            "SF_PRIVATE_KEY_FILE (see README 'Connecting to your org').\n",
        ),
        (
            {"SF_LOGIN_URL": "acme.my.salesforce.com", "SF_CLIENT_ID": "c", "SF_CLIENT_SECRET": "s"},
            "Error: SF_LOGIN_URL 'acme.my.salesforce.com' is not an https:// host URL such as "
            "https://acme.my.salesforce.com (no path). Fix SF_LOGIN_URL (see README 'Connecting to your org').\n",
        ),
        (
            {"SF_INSTANCE_URL": "https://a.my.salesforce.com", "SF_SESSION_ID": "x", "SF_READ_TIMEOUT": "soon"},
            "Error: SF_READ_TIMEOUT 'soon' is not a number of seconds between 0 and 3600 (default 120).\n",
        ),
    ],
)
def test_ambiguous_incomplete_or_malformed_sets_name_what_to_fix(env, message):
    r = cli(env, "preflight")
    assert (r.exit_code, r.stderr) == (1, message)


def test_a_missing_ca_file_is_one_error_line(org):
    r = cli({**org.oauth_env(), "SF_CA_BUNDLE": "/nowhere/ca.pem"}, "preflight")
    assert (r.exit_code, r.stderr) == (
        1,
        "Error: SF_CA_BUNDLE file '/nowhere/ca.pem' does not exist. Point "
        "SF_CA_BUNDLE at the PEM file of the CA to trust (the sandbox org prints "
        "its ca_bundle), or unset it to trust the system CAs.\n",
    )


def test_an_untrusted_certificate_names_the_host_and_sf_ca_bundle(org, tmp_path):
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    r = cli({**org.oauth_env(), "SF_CA_BUNDLE": str(other)}, "preflight")
    assert r.exit_code == 1
    assert r.stderr.startswith(
        f"Error: Salesforce login failed: TLS to '127.0.0.1:{org.port}' failed (certificate not trusted: "
    )
    assert "set SF_CA_BUNDLE to the CA that signed its certificate" in r.stderr and "Traceback" not in r.stderr


def test_an_unknown_host_is_one_dns_error_line():
    env = {"SF_LOGIN_URL": "https://no-such-org.invalid", "SF_CLIENT_ID": "c", "SF_CLIENT_SECRET": "s"}
    r = cli(env, "preflight")
    assert (r.exit_code, r.stderr) == (
        1,
        "Error: Salesforce login failed: the host 'no-such-org.invalid' cannot be "
        "found (DNS). Check SF_LOGIN_URL (e.g. your My Domain URL "
        "https://acme.my.salesforce.com) and the network.\n",
    )


# ------------------------------------------------------------------------------------------ no hangs


@pytest.fixture
def silent_port():
    """A socket that accepts connections (the kernel's backlog) and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("flow", ["client_credentials", "session"])
def test_a_server_that_never_answers_times_out_with_one_error_line(org, silent_port, flow):
    url = f"https://127.0.0.1:{silent_port}"
    env = {**flow_env(org, flow), "SF_CONNECT_TIMEOUT": "0.5", "SF_READ_TIMEOUT": "0.5"}
    env["SF_LOGIN_URL" if flow == "client_credentials" else "SF_INSTANCE_URL"] = url
    r = cli(env, "preflight")
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert f"'127.0.0.1:{silent_port}'" in r.stderr and "within 0.5 s" in r.stderr
    assert "raise SF_READ_TIMEOUT" in r.stderr or "raise SF_CONNECT_TIMEOUT" in r.stderr


@pytest.mark.timeout(60)
def test_a_silent_tls_handshake_is_reported_as_the_connect_timeout(silent_port):
    env = {
        "SF_INSTANCE_URL": f"https://127.0.0.1:{silent_port}",
        "SF_SESSION_ID": "00D000000000001!silent",
        "SF_CONNECT_TIMEOUT": "0.4",
        "SF_READ_TIMEOUT": "30",
    }
    r = cli(env, "preflight")
    assert (r.exit_code, r.stderr) == (
        1,
        f"Error: Salesforce cannot be reached: '127.0.0.1:{silent_port}' accepted "
        "the connection but did not complete the TLS handshake within 0.4 s (connect "
        "timeout). Check the host and proxy, or raise SF_CONNECT_TIMEOUT.\n",
    )


@pytest.mark.timeout(60)
def test_a_slow_org_is_retried_once_then_reported(org):
    client = connect(env={**org.oauth_env(), "SF_READ_TIMEOUT": "0.3"})
    client.backoff = 0.01
    org.org.set_faults(latency_ms=1000)
    with pytest.raises(SalesforceError, match=r"sent no answer within 0.3 s \(read timeout\)"):
        client.count("Lead")
    assert client.retries == 1
    org.org.set_faults(latency_ms=0)


# ------------------------------------------------------------------------------------------ no secret printed


@pytest.fixture
def echo_login(tmp_path):
    """An HTTPS login endpoint that answers every POST with an HTML error page echoing headers and body."""
    ca = trustme.CA()

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            page = b"<html><body><h1>Bad request</h1><pre>" + bytes(self.headers) + body + b"</pre></body></html>"
            self.send_response(500)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ca_file = tmp_path / "echo-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield f"https://127.0.0.1:{server.server_address[1]}", str(ca_file)
    server.shutdown()
    server.server_close()


def test_debug_traceback_of_an_echoing_legacy_login_shows_no_password_or_token(echo_login):
    url, ca = echo_login
    password, token = "p&ss<w0rd>+%42", "TOKEN5ecret"
    env = {
        "SF_USERNAME": "ops@acme.test",
        "SF_PASSWORD": password,
        "SF_SECURITY_TOKEN": token,
        "SF_LOGIN_URL": url,
        "SF_CA_BUNDLE": ca,
    }
    r = cli(env, "--debug", "preflight")
    assert r.exit_code == 1
    assert "Traceback" in r.stderr and "***" in r.stderr  # the echo was there, and redacted
    for secret in (password, "p&amp;ss&lt;w0rd&gt;+%42", token, "p%26ss%3Cw0rd%3E%2B%2542"):
        assert secret not in r.stderr + r.stdout
    assert r.stderr.startswith(
        "Warning: SF_USERNAME/SF_PASSWORD log in with the SOAP API login(), which Salesforce "
        "removed from API 65.0 and retires for all versions in Summer '27"
    )


def test_debug_traceback_of_an_echoing_token_endpoint_shows_no_client_secret(echo_login):
    url, ca = echo_login
    env = {
        "SF_LOGIN_URL": url,
        "SF_CLIENT_ID": "3MVGclientid",
        "SF_CLIENT_SECRET": "C0NSUMER5ECRET",
        "SF_CA_BUNDLE": ca,
    }
    r = cli(env, "--debug", "pull", "--out", "never")
    assert r.exit_code == 1 and "Traceback" in r.stderr
    import base64

    basic = base64.b64encode(b"3MVGclientid:C0NSUMER5ECRET").decode()
    for secret in ("C0NSUMER5ECRET", basic, "3MVGclientid"):
        assert secret not in r.stderr + r.stdout
    assert r.stderr.splitlines()[-1].startswith(
        "Error: Salesforce refused the OAuth 2.0 client credentials login at "
        f"'{url[8:]}' (500: <html><body><h1>Bad request</h1><pre>"
    )


def test_sandbox_serve_prints_what_each_flow_needs(tmp_path):
    import subprocess
    import sys

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconcile.cli",
            "sandbox",
            "serve",
            "--state",
            str(tmp_path / "org.json"),
            "--seed",
            str(HANDMADE),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert {
            "login_url",
            "client_id",
            "client_secret",
            "username",
            "jwt_key_file",
            "password",
            "security_token",
        } <= set(info)
        for env in (
            {
                "SF_LOGIN_URL": info["login_url"],
                "SF_CLIENT_ID": info["client_id"],
                "SF_CLIENT_SECRET": info["client_secret"],
                "SF_CA_BUNDLE": info["ca_bundle"],
            },
            {
                "SF_LOGIN_URL": info["login_url"],
                "SF_CLIENT_ID": info["client_id"],
                "SF_USERNAME": info["username"],
                "SF_PRIVATE_KEY_FILE": info["jwt_key_file"],
                "SF_CA_BUNDLE": info["ca_bundle"],
            },
            {
                "SF_LOGIN_URL": info["login_url"],
                "SF_USERNAME": info["username"],
                "SF_PASSWORD": info["password"],
                "SF_SECURITY_TOKEN": info["security_token"],
                "SF_CA_BUNDLE": info["ca_bundle"],
            },
        ):
            assert len(connect(env=env).query_all("SELECT Id FROM Lead")) == 4
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    "status, code, kind",
    [
        (401, "INVALID_SESSION_ID", "reauth"),
        (401, None, "reauth"),
        (400, "INVALID_SESSION_ID", "reauth"),
        (403, "REQUEST_LIMIT_EXCEEDED", "stop"),
        (503, None, "retry"),
        (500, "UNKNOWN_EXCEPTION", "retry"),
        (400, "MALFORMED_QUERY", "fail"),
        (404, "NOT_FOUND", "fail"),
    ],
)
def test_one_classifier_says_what_each_salesforce_error_answer_means(status, code, kind):
    from simple_salesforce.exceptions import SalesforceError as SFError

    from reconcile.salesforce import classify, error_code

    content = [{"errorCode": code, "message": "m"}] if code else "plain text"
    e = SFError("https://x/services/data", status, "x", content)
    assert classify(e) == kind
    assert error_code(e) == code


def test_soql_literals_are_quoted_in_one_place():
    from reconcile.salesforce import soql

    assert (
        soql("SELECT Id FROM Lead WHERE GBU__c = {} AND Id IN {}", "O'Neil\\", ["a", "b"])
        == "SELECT Id FROM Lead WHERE GBU__c = 'O\\'Neil\\\\' AND Id IN ('a','b')"
    )
