"""One error hierarchy. Every message says what failed, names the thing in quotes, why, and the fix."""

import errno
import json
import tomllib
from pathlib import Path


class ReconcileError(Exception):
    """Base of every error the CLI turns into `Error: …` and exit status 1."""

    exit_code = 1

    def _render_traceback_(self) -> list[str]:
        """IPython (a notebook cell, papermill) shows this instead of the call stack: the one line the CLI prints."""
        from .credentials import redact

        return [redact(f"{type(self).__name__}: {self}")]


class SnapshotError(ReconcileError):
    """A snapshot file is missing, unreadable or holds a bad value."""


class PolicyError(ReconcileError):
    """The policy file is malformed or contradicts itself."""


class PlanError(ReconcileError):
    """A plan file is malformed, tampered with or not approved."""


class ApprovalError(PlanError):
    """An approval is missing, stale or does not cover what is asked."""


class AuditError(PlanError):
    """A build-time audit (sql/audits/assert_*.sql) found rows that break an invariant of the plan: none is written."""


class SalesforceError(ReconcileError):
    """Salesforce could not be reached or refused the session."""


class ApplyError(ReconcileError):
    """Apply stopped; the message says whether and how to resume."""


class ApplyStopped(ApplyError):
    """Apply stopped cleanly (session expired, API limit reached); rerun to resume. `code`: Salesforce's error code
    when it gave one (INVALID_SESSION_ID, REQUEST_LIMIT_EXCEEDED), for the audit rows of the call it stopped at."""

    exit_code = 3

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


class SandboxError(ReconcileError):
    """The local sandbox org cannot start or be found as asked."""


class PullError(ReconcileError):
    """A source (Smartlead, Pardot, the Clay drop folder, the webhook spool) could not be pulled as asked."""


_OS_FIXES = {
    errno.ENOSPC: "Free space on that disk, or choose a path on another disk.",
    errno.EDQUOT: "Free space within your disk quota, or choose a path on another disk.",
    errno.EACCES: "Check the permissions of the file and its folder, or choose another path.",
    errno.EPERM: "Check the permissions of the file and its folder, or choose another path.",
    errno.EROFS: "The disk is read-only: choose a path on a writable disk.",
    errno.ENOENT: "Check the path: it does not exist.",
    errno.ENOTDIR: "A part of the path is a file, not a folder: choose another path.",
    errno.EEXIST: "A file is where a folder is needed: choose another path, or move the file.",
    errno.EISDIR: "The path is a folder: give a file name.",
}


def os_error_message(e: OSError) -> str:
    """What the CLI says when the operating system refuses a file: the path, the reason and the fix."""
    where = f" '{e.filename}'" if e.filename else ""
    also = f" (to '{e.filename2}')" if getattr(e, "filename2", None) else ""
    fix = _OS_FIXES.get(e.errno, "Check the path and try again.")
    return f"Could not use{where}{also}: {e.strerror or e}. {fix}"


def unbound_port(
    host: str, port: int, e: OSError, cls: type[ReconcileError] = ReconcileError, options: str = "--port"
) -> ReconcileError:
    """A server that could not listen, said one way by every `serve` command: which port on which host, and the fix
    (the OS's "Address already in use" names neither, and uvicorn's own exit status 3 would mean "rerun to resume")."""
    if e.errno == errno.EADDRINUSE:
        return cls(
            f"Port {port} on {host} is already in use (stop the process listening there, or pass another --port; "
            "0 = a free one)."
        )
    return cls(f"Cannot listen on port {port} on {host}: {e.strerror or e} (pass another {options}).")


def toml_value(value) -> str:
    """A value as a TOML file spells it ("lots", 7, true), for an error that quotes a bad key = value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        text = "[" + ", ".join(toml_value(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    else:
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


# the DuckDB error texts reconcile recognises
DUCKDB_LOCK_HELD = "Could not set lock on file"  # another process holds the file
DUCKDB_DISK_FULL = "No space left on device"  # strerror(ENOSPC), as DuckDB's IO errors quote it


def read_toml(raw: bytes, name: str, cls: type[ReconcileError], fix: str) -> dict:
    """A small TOML file of the user's (a policy, a manifest) from its bytes, a byte-order mark allowed; `cls` naming
    `name` when it is not UTF-8 (UTF-16 is said as such: Windows Notepad saves "Unicode" so) or not TOML (`fix`)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        why = "UTF-16, as Windows Notepad saves Unicode" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else str(e)
        raise cls(f"{name} is not UTF-8 text ({why}). Save it as UTF-8 and rerun.") from e
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise cls(f"{name} is not valid TOML: {e}. {fix}") from e


def refuse_not_duckdb(path, cls: type[ReconcileError] = ReconcileError) -> None:
    """A file named as a DuckDB file that is not one (`--db plan.changes.csv`): DuckDB itself opens a .csv or .json
    path as an empty in-memory database with a view of the file, so an audit read it as 0 rows and a check as
    'not built here'. A DuckDB file says DUCK at bytes 8–11 of its header."""
    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        return
    with open(p, "rb") as fh:
        head = fh.read(12)
    if head[8:12] != b"DUCK":
        raise cls(
            f"'{path}' is not a DuckDB file. Name the reconcile.duckdb that `reconcile plan` wrote (--db; by default "
            "the one beside the plan)."
        )


def unopened_db(path, e: Exception, cls: type[ReconcileError] = ReconcileError) -> ReconcileError:
    """A DuckDB file that would not open, said one way by every command: held by another process (wait), or not a
    DuckDB database / damaged (waiting would not help: name the plan's file, or move this one aside)."""
    first = str(e).splitlines()[0]
    if DUCKDB_LOCK_HELD in first:
        return cls(
            f"DuckDB file '{path}' cannot be opened as it is in use by another process ({first}). If an apply or "
            "another plan is running, wait for it to finish (or close the notebook that opened it for writing) "
            "and rerun."
        )
    return cls(
        f"DuckDB file '{path}' cannot be opened ({first}). Name the reconcile.duckdb that `reconcile plan` wrote "
        "(--db); if this one is damaged, move it aside (its audit trail is in it) and plan again."
    )
