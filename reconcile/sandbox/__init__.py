"""The local sandbox org: a Salesforce-compatible HTTPS server on 127.0.0.1 for tests and the demo.

    from reconcile.sandbox import start_sandbox
    h = start_sandbox()                       # in-memory org on a free port
    s = requests.Session(); s.verify = h.ca_bundle; s.trust_env = False
    sf = Salesforce(instance_url=h.instance_url, session_id=h.session_id, session=s)

Users (seed §3.1): `h.session_id` is the least-privilege integration user, `h.admin_session_id` the
System Administrator, `h.overprivileged_session_id` an integration user that breaks the seed's rules.
Modules: server (HTTPS, routing), rest, bulk, query/soql, describe, writes (the update pipeline),
security/setup_rows (users and permissions), state/persist (records, history, saving), faults.
"""

import json
import signal
import tempfile
import threading
from pathlib import Path

from .server import SandboxServer, load_ca
from .state import Org

__all__ = ["start_sandbox", "SandboxHandle", "serve", "Org"]


class SandboxHandle:
    """A running sandbox org: where it listens, how to trust it, its sessions and its state."""

    def __init__(self, server: SandboxServer, org: Org, ca_bundle: str, tempdir=None):
        self._server, self.org, self.ca_bundle, self._tempdir = server, org, ca_bundle, tempdir
        self.instance_url = f"https://127.0.0.1:{server.server_address[1]}"
        self._thread = server.start()

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


def start_sandbox(state_path=None, port: int = 0, faults: dict | None = None, daily_limit: int = 15000,
                  users: dict | None = None) -> SandboxHandle:
    """Start the org on 127.0.0.1:`port` (0 = free port); returns once it is serving.

    `state_path`: JSON file loaded at start if it exists and saved atomically after every change
    (None = in memory only). The CA PEM is written next to it (`<stem>.ca.pem`, reused across
    restarts) or into a temporary directory. `users`: {key: {UserSpec field: value}} overrides or
    additions (new keys start as copies of the integration user); ignored when the state file exists.
    """
    org = Org(state_path, daily_limit=daily_limit, users=users, faults=faults)
    tempdir = None
    if state_path:
        directory, stem = Path(state_path).resolve().parent, Path(state_path).stem
    else:
        tempdir = tempfile.TemporaryDirectory(prefix="reconcile-sandbox-")
        directory, stem = Path(tempdir.name), "sandbox"
    ca, ca_bundle = load_ca(directory, stem)
    server = SandboxServer(org, port, ca)
    return SandboxHandle(server, org, ca_bundle, tempdir)


def serve(port: int = 0, state_path=None, seed=None) -> None:
    """Run the org until SIGINT/SIGTERM; prints one JSON line with instance_url, sessions and ca_bundle.

    `seed`: optional callable(org) run once when the state is fresh (no records yet), e.g. demo data.
    """
    handle = start_sandbox(state_path=state_path, port=port)
    if seed is not None and not any(handle.org.data[o] for o in ("Lead", "CampaignMember", "Contact")):
        seed(handle.org)
    print(json.dumps({"instance_url": handle.instance_url, "session_id": handle.session_id,
                      "admin_session_id": handle.admin_session_id, "ca_bundle": handle.ca_bundle}),
          flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    handle.stop()
