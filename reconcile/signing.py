"""The signing key and HMAC-SHA256 signatures of approvals, plan provenance and the audit head.

The key lives outside every plan folder, so a file in a plan's folder cannot be re-signed by whoever can edit
that folder:

  RECONCILE_APPROVAL_KEY    the key itself (any string; e.g. from a secret manager) — wins if set
  RECONCILE_CONFIG_DIR      folder of `approval.key` [default: $XDG_CONFIG_HOME/reconcile, else ~/.config/reconcile]

`approval.key` is created on first use (32 random bytes, hex, mode 0600) and refused if group or others can
read it. Every signature names what it signs (`kind`), so a signature of one kind never verifies another.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from .errors import ReconcileError
from .files import canonical_json

KEY_ENV = "RECONCILE_APPROVAL_KEY"
DIR_ENV = "RECONCILE_CONFIG_DIR"
PREFIX = "hmac-sha256:"


class SigningKeyError(ReconcileError):
    """The signing key cannot be read or is readable by others."""


def config_dir() -> Path:
    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "reconcile"


def key_path() -> Path:
    return config_dir() / "approval.key"


def signing_key() -> bytes:
    """The key from RECONCILE_APPROVAL_KEY, else `approval.key` in the config dir (created on first use)."""
    if os.environ.get(KEY_ENV):
        if len(os.environ[KEY_ENV].strip()) < 32:  # as short as a key file that is refused: a guessable secret
            raise SigningKeyError(
                f"{KEY_ENV} is too short ({len(os.environ[KEY_ENV].strip())} characters; at least 32). Set it to a "
                "random secret, e.g. the output of `python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        return os.environ[KEY_ENV].encode("utf-8")
    path = key_path()
    if not path.exists():
        _create_key(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text("utf-8").strip()
    except OSError as e:
        raise SigningKeyError(
            f"Signing key '{path}' cannot be read ({e.strerror}). Fix its permissions or set {KEY_ENV}."
        ) from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(
            f"Signing key '{path}' can be read by other users (mode {stat.S_IMODE(mode):o}). "
            f"Run `chmod 600 {path}` and rerun."
        )
    if len(text) < 32:
        raise SigningKeyError(
            f"Signing key '{path}' is too short. Delete it (a new one is created; earlier "
            "approvals must then be given again) or set " + KEY_ENV + "."
        )
    return text.encode("utf-8")


def _create_key(path: Path) -> None:
    """Write a new key to a private temporary file, then link it into place: a process starting at the same moment
    either wins the link (and every process uses its key) or loses it; none reads a half-written key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.parent / f".approval.key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it meanwhile: its key is the key
    finally:
        tmp.unlink(missing_ok=True)


def sign(kind: str, body) -> str:
    mac = hmac.new(signing_key(), kind.encode("utf-8") + b"\n" + canonical_json(body), hashlib.sha256)
    return PREFIX + mac.hexdigest()


def verify(kind: str, body, signature) -> bool:
    return isinstance(signature, str) and hmac.compare_digest(sign(kind, body), signature)
