"""The local sandbox org: a Salesforce-compatible HTTPS server on 127.0.0.1 for tests and the demo.

    from reconcile.sandbox import start_sandbox
    h = start_sandbox()                       # in-memory org on a free port
    s = requests.Session(); s.verify = h.ca_bundle; s.trust_env = False
    sf = Salesforce(instance_url=h.instance_url, session_id=h.session_id, session=s)

OAuth: `h.login_url`, `h.client_id`, `h.client_secret` (client credentials, Run As the integration user),
`h.username` + `h.jwt_key_file` (JWT bearer with the key of the app's certificate); see sandbox/oauth.py.
Legacy SOAP login(): `h.username` + `h.password` + `h.security_token` (sandbox/soap.py).
Users (seed §3.1): `h.session_id` is the least-privilege integration user, `h.admin_session_id` the
System Administrator, `h.overprivileged_session_id` an integration user that breaks the seed's rules.
Modules: server (HTTPS, routing), rest, bulk, query/soql, describe, writes (the update pipeline),
security/setup_rows (users and permissions), state/persist (records, history, saving), faults.
"""

import tempfile
from pathlib import Path

from .oauth import load_jwt_key, new_app
from .serving import env_lines, serve
from .transport import SandboxServer, load_ca
from .state import Org

__all__ = ["start_sandbox", "SandboxHandle", "serve", "env_lines", "Org"]


class SandboxHandle:
    """A running sandbox org: where it listens, how to trust it, its sessions and its state."""

    def __init__(self, server: SandboxServer, org: Org, ca_bundle: str, tempdir=None, jwt_key_file: str = ""):
        self._server, self.org, self.ca_bundle, self._tempdir = server, org, ca_bundle, tempdir
        self.instance_url = f"https://127.0.0.1:{server.server_address[1]}"
        self.login_url = org.login_url = self.instance_url  # one host answers login and API, like a My Domain
        self.jwt_key_file = jwt_key_file
        self._thread = server.start()

    @property
    def client_id(self) -> str:
        return self.org.app["client_id"]

    @property
    def client_secret(self) -> str:
        return self.org.app["client_secret"]

    @property
    def username(self) -> str:
        """The integration user: the app's Run As user and the JWT subject."""
        return self.org.user(self.org.app["run_as"]).username

    @property
    def password(self) -> str:
        """The integration user's password for the legacy SOAP login (followed by `security_token`)."""
        return self.org.user(self.org.app["run_as"]).password

    @property
    def security_token(self) -> str:
        return self.org.user(self.org.app["run_as"]).security_token

    def oauth_env(self, flow: str = "client_credentials", prefix: str = "SF_") -> dict:
        """Environment variables for `reconcile` to log in with `flow` (client_credentials, jwt, or password:
        the legacy SOAP login)."""
        if flow == "password":
            return {
                f"{prefix}LOGIN_URL": self.login_url,
                f"{prefix}USERNAME": self.username,
                f"{prefix}PASSWORD": self.password,
                f"{prefix}SECURITY_TOKEN": self.security_token,
                f"{prefix}CA_BUNDLE": self.ca_bundle,
            }
        env = {
            f"{prefix}LOGIN_URL": self.login_url,
            f"{prefix}CLIENT_ID": self.client_id,
            f"{prefix}CA_BUNDLE": self.ca_bundle,
        }
        if flow == "jwt":
            env.update({f"{prefix}USERNAME": self.username, f"{prefix}PRIVATE_KEY_FILE": self.jwt_key_file})
        else:
            env[f"{prefix}CLIENT_SECRET"] = self.client_secret
        return env

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def session_for(self, key: str) -> str:
        """Current session id of user `key` (integration, admin, overprivileged, or one from `users=`)."""
        return self.org.user(key).session_id

    @property
    def session_id(self) -> str:
        return self.session_for("integration")

    @property
    def admin_session_id(self) -> str:
        return self.session_for("admin")

    @property
    def overprivileged_session_id(self) -> str:
        return self.session_for("overprivileged")

    def stop(self) -> None:
        """Stop serving and release the port (state was already saved after every change)."""
        if self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._thread = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_sandbox(
    state_path=None,
    port: int = 0,
    faults: dict | None = None,
    daily_limit: int = 15000,
    users: dict | None = None,
    token_ttl: float = 7200,
) -> SandboxHandle:
    """Start the org on 127.0.0.1:`port` (0 = free port); returns once it is serving.

    `state_path`: JSON file loaded at start if it exists and saved atomically after every change
    (None = in memory only). The CA PEM is written next to it (`<stem>.ca.pem`, reused across
    restarts) or into a temporary directory. `users`: {key: {UserSpec field: value}} overrides or
    additions (new keys start as copies of the integration user); ignored when the state file exists.
    `token_ttl`: seconds an OAuth access token stays valid. The registered app's JWT key is written next to
    the CA (`<stem>.jwt-key.pem`).
    """
    org = Org(state_path, daily_limit=daily_limit, users=users, faults=faults, token_ttl=token_ttl)
    tempdir = None
    if state_path:
        directory, stem = Path(state_path).resolve().parent, Path(state_path).stem
    else:
        tempdir = tempfile.TemporaryDirectory(prefix="reconcile-sandbox-")
        directory, stem = Path(tempdir.name), "sandbox"
    ca, ca_bundle = load_ca(directory, stem)
    key_file, cert_pem = load_jwt_key(directory, stem)
    with org.lock:
        if org.app is None:
            org.app = new_app("integration", cert_pem)
        org.app["certificate"] = cert_pem
        org.save()
    server = SandboxServer(org, port, ca)
    return SandboxHandle(server, org, ca_bundle, tempdir, jwt_key_file=key_file)
