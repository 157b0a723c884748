"""Serving the org for people: `reconcile sandbox serve` (seed, reset) and `reconcile sandbox env`.

While it serves, the org writes `<state stem>.serving.json` beside its state file (mode 600: it holds the
app's client secret) with what a client needs; `env_lines()` turns it into `export …` lines, so a shell
walk-through is `reconcile sandbox serve --seed DIR & eval "$(reconcile sandbox env)"`.
"""

import json
import os
import shlex
import signal
import socket
import threading
import time
from pathlib import Path

from ..errors import SandboxError

# Every variable of every way in (credentials.py); `env` unsets those of the other ways, since a mix is an error.
LOGIN_VARIABLES = (
    "SF_LOGIN_URL",
    "SF_CLIENT_ID",
    "SF_CLIENT_SECRET",
    "SF_USERNAME",
    "SF_PRIVATE_KEY_FILE",
    "SF_INSTANCE_URL",
    "SF_SESSION_ID",
    "SF_PASSWORD",
    "SF_SECURITY_TOKEN",
    "SF_DOMAIN",
)
FLOWS = ("client_credentials", "jwt", "password", "session")
SOURCE_VARIABLES = {
    "smartlead_base_url": "SMARTLEAD_BASE_URL",
    "smartlead_api_key": "SMARTLEAD_API_KEY",
    "pardot_base_url": "PARDOT_BASE_URL",
    "pardot_business_unit_id": "PARDOT_BUSINESS_UNIT_ID",
}


def serving_file(state_path) -> Path:
    state = Path(state_path)
    return state.with_name(f"{state.stem}.serving.json")


def prepare_state(state_path, seeding: bool, reset: bool) -> None:
    """Refuse to ignore --seed on an existing state; with `reset`, remove the state (CA and JWT key are kept,
    so SF_CA_BUNDLE and SF_PRIVATE_KEY_FILE stay valid)."""
    if state_path is None:
        return
    state = Path(state_path)
    if state.exists() and reset:
        state.unlink()
    elif state.exists() and seeding:
        raise SandboxError(
            f"Sandbox state '{state}' already exists, so --seed would be ignored. Add --reset to "
            "replace it with a fresh org seeded from the snapshot, or drop --seed to keep it."
        )


def serve(
    port: int = 0, state_path=None, seed=None, token_ttl: float = 7200, reset: bool = False, companions=None
) -> None:
    """Run the org until SIGINT/SIGTERM; prints one JSON line: instance_url, sessions, ca_bundle, the OAuth
    app (login_url, client_id, client_secret, username, jwt_key_file) and the integration user's password and
    security_token (legacy SOAP login).

    `seed`: optional callable(org) run on the fresh org. Refused (SandboxError) when the state file already
    exists, unless `reset` replaces that state first.
    """
    from . import start_sandbox

    prepare_state(state_path, seed is not None, reset)
    handle = start_sandbox(state_path=state_path, port=port, token_ttl=token_ttl)
    extra, stop_companions = {}, None
    try:
        if seed is not None:
            seed(handle.org)
        if companions is not None:  # the Smartlead and Pardot stand-ins (reconcile/standins/sources.py)
            extra, stop_companions = companions(handle.org)
        info = {
            "instance_url": handle.instance_url,
            "session_id": handle.session_id,
            "admin_session_id": handle.admin_session_id,
            "ca_bundle": handle.ca_bundle,
            "login_url": handle.login_url,
            "client_id": handle.client_id,
            "client_secret": handle.client_secret,
            "username": handle.username,
            "jwt_key_file": handle.jwt_key_file,
            "password": handle.password,
            "security_token": handle.security_token,
            **extra,
        }
        if state_path is not None:
            _write_private(serving_file(state_path), json.dumps({**info, "pid": os.getpid()}))
        print(json.dumps(info), flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        if state_path is not None:
            serving_file(state_path).unlink(missing_ok=True)
        if stop_companions:
            stop_companions()
        handle.stop()


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def env_lines(state_path, flow: str = "client_credentials", wait: float = 10) -> list:
    """`unset`/`export` lines that point `reconcile` at the org serving from `state_path` with `flow`.

    Waits up to `wait` seconds for the org to start (it may have been started with `&` just before)."""
    if flow not in FLOWS:
        raise SandboxError(f"Unknown login flow '{flow}'; use one of: {', '.join(FLOWS)}.")
    info = _serving_info(state_path, wait)
    if flow == "session":  # the integration user's session id: no login request at all
        values = {"SF_INSTANCE_URL": info["instance_url"], "SF_SESSION_ID": info["session_id"]}
    elif flow == "password":
        values = {
            "SF_LOGIN_URL": info["login_url"],
            "SF_USERNAME": info["username"],
            "SF_PASSWORD": info["password"],
            "SF_SECURITY_TOKEN": info["security_token"],
        }
    elif flow == "jwt":
        values = {
            "SF_LOGIN_URL": info["login_url"],
            "SF_CLIENT_ID": info["client_id"],
            "SF_USERNAME": info["username"],
            "SF_PRIVATE_KEY_FILE": info["jwt_key_file"],
        }
    else:
        values = {
            "SF_LOGIN_URL": info["login_url"],
            "SF_CLIENT_ID": info["client_id"],
            "SF_CLIENT_SECRET": info["client_secret"],
        }
    values["SF_CA_BUNDLE"] = info["ca_bundle"]
    for key, var in SOURCE_VARIABLES.items():  # the Smartlead and Pardot stand-ins beside the org
        if info.get(key):
            values[var] = info[key]
    others = [name for name in LOGIN_VARIABLES if name not in values]
    return [f"unset {' '.join(others)}"] + [f"export {k}={shlex.quote(str(v))}" for k, v in values.items()]


def _serving_info(state_path, wait: float) -> dict:
    path = serving_file(state_path)
    deadline = time.monotonic() + wait
    while True:
        info = _read_json(path)
        if info and _listening(info["instance_url"]):
            return info
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    raise SandboxError(
        f"No sandbox org is serving from state '{state_path}' (no live '{path.name}' beside it). "
        f"Start one first: reconcile sandbox serve --state {state_path} &"
    )


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _listening(url: str) -> bool:
    host, _, port = url.removeprefix("https://").partition(":")
    try:
        with socket.create_connection((host, int(port or 443)), timeout=1):
            return True
    except OSError:
        return False
