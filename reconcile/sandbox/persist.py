"""Load and atomically save the org state (one JSON file: write a temp file, fsync, rename)."""

import json
import os
import tempfile
from pathlib import Path

FORMAT = "reconcile.sandbox/1"


def load(path: Path) -> dict | None:
    """The saved state, or None if `path` does not exist yet."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(
            f"Sandbox state '{path}' has format {data.get('format')!r}, expected {FORMAT!r}; "
            "delete it to start a fresh org."
        )
    return data


def save(path: Path, data: dict) -> None:
    """Write `data` so that a crash leaves either the old or the new file, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"format": FORMAT, **data}, out, separators=(",", ":"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
