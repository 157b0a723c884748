"""Small shared file and format helpers: atomic writes (one file, or several moved into place together), releasing
a read file's cached pages, value text for CSV/SOQL/explain output, canonical JSON and its hash."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
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


def remove_path(path: Path) -> None:
    """Remove a file, a link or a folder with its content, if there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def folders_for(*folders: Path):
    """Create the folders (and their missing parents) an output goes to; if the block fails, remove the ones it
    created (deepest first, only while empty), so a refused command leaves no trace behind."""
    made: list[Path] = []
    for folder in folders:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for f in reversed(missing):
            f.mkdir(exist_ok=True)
            made.append(f)
    try:
        yield
    except BaseException:
        for f in reversed(made):
            try:
                f.rmdir()
            except OSError:
                pass  # not empty (or gone): what is in it is not ours to remove
        raise


def refuse_folder(path: Path) -> None:
    """An output path that is a folder, refused before anything is written (IsADirectoryError, said as every OS
    error on a path is: errors.os_error_message)."""
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))


def move_into_place(moves: list[tuple[Path | None, Path]], folders: tuple[Path, ...] = ()) -> None:
    """Move each written temporary (a file or a folder) over its target, in the order given; None removes the
    target (a folder only when it is one of `folders`). All or nothing: until the last move is made, each target
    replaced is kept under a second name beside it (`.<name>.replaced`: a hard link to a file, so the file itself is
    never missing; a folder is renamed aside), and when a move fails those already made are undone — every target
    as it was, the temporaries left for the caller to remove — and the OSError names the target. Then the kept
    targets are removed."""
    done: list[list] = []  # [temporary, target, kept, moved]
    try:
        for new, target in moves:
            try:
                folder = new.is_dir() if new is not None else target in folders
                done.append([new, target, _keep(target, folder=folder), False])
                if new is not None:
                    os.replace(new, target)
                elif os.path.lexists(target):
                    remove_path(target)
                done[-1][3] = True
            except OSError as e:
                raise OSError(e.errno, e.strerror, str(target)) from e
    except BaseException:
        for new, target, kept, moved in reversed(done):
            try:
                if moved and new is not None and (kept is None or kept.is_dir()):
                    os.replace(target, new)  # back to its temporary name (a folder cannot be replaced by another)
                if kept is not None:
                    os.replace(kept, target)
            except OSError:
                pass  # undo the others still; the kept copy stays beside the target
        raise
    for _, _, kept, _ in done:
        if kept is not None:
            try:
                remove_path(kept)
            except OSError:
                pass  # a copy left over is removed by the next move over the same target


def _keep(target: Path, folder: bool) -> Path | None:
    """The target's second name while it is replaced by a folder (`folder`) or a file or removed (None when there
    is no target). A folder is only ever replaced by a folder (IsADirectoryError: never someone's folder removed)."""
    if not os.path.lexists(target):
        return None
    is_dir = target.is_dir() and not target.is_symlink()
    if is_dir and not folder:
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
    kept = target.with_name(f".{target.name}.replaced")
    remove_path(kept)  # an earlier run's, stopped after its move: the target is there, so this is no one's only copy
    if is_dir:
        os.replace(target, kept)
        return kept
    try:
        os.link(target, kept, follow_symlinks=False)
    except OSError:  # a file system without hard links: renamed aside instead
        os.replace(target, kept)
    return kept


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
