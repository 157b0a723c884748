"""Small shared file and format helpers: atomic writes, releasing a read file's cached pages, value text for
CSV/SOQL/explain output, canonical JSON and its hash."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write a file whole or not at all: a temporary file beside it, then one rename (no half-written plan,
    approval, report or export, whatever stops the process)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def release_cached_pages(path: Path) -> None:
    """Tell the kernel a file's cached pages will not be read again (posix_fadvise POSIX_FADV_DONTNEED), so the
    memory they hold goes to the files a build writes and reads back. Advice only: nothing changes in the file,
    and a later read simply reads it from disk. A no-op where the system has no posix_fadvise (macOS, Windows), and
    when the file cannot be opened any more: advice that cannot be given must not fail the build that gives it."""
    if not hasattr(os, "posix_fadvise"):
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass
    finally:
        os.close(fd)


def as_text(value, blank: str = "") -> str:
    """A value as text: `blank` for None, true/false for booleans, else str(value)."""
    if value is None:
        return blank
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def short_id(content_id: str) -> str:
    """A plan_id as people read it in messages: 'sha256:' and the first 12 hex digits, then '…'."""
    return content_id[:19] + "…"


def canonical_json(body) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes a hash or signature is computed over."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_json(body) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()
