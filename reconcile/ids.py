"""Salesforce ids in Python: the scalar id18 and the Arrow UDF sf_id18 (registered in sql.register_functions, used
by the models), both over one checksum. The demo data uses checksum_codes too; the sandbox org keeps its own copy on
purpose (reconcile/sandbox/ids.py: an independent fake must not share the code it checks)."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SHAPE = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def id_checksum(body: str) -> str:
    """The three characters Salesforce appends to a 15-character id body: bit j of character i is set when
    character j of the i-th group of five is an upper-case letter."""
    return "".join(_ALPHABET[sum(1 << j for j, c in enumerate(body[i : i + 5]) if "A" <= c <= "Z")] for i in (0, 5, 10))


def id18(value: str) -> str | None:
    """15 → 18 characters; an 18-character id must carry its checksum (case-insensitively). Else None."""
    s = (value or "").strip()
    if not _SHAPE.fullmatch(s):
        return None
    body = s[:15]
    if len(s) == 18 and s[15:].upper() != id_checksum(body):
        return None
    return body + id_checksum(body)


_ALPHABET_BYTES = np.frombuffer(_ALPHABET.encode(), dtype=np.uint8)
_WEIGHTS = np.array([1, 2, 4, 8, 16], dtype=np.uint8)


def checksum_codes(bodies: np.ndarray) -> np.ndarray:
    """id_checksum, vectorised: the (n, 3) uint8 character codes for an (n, 15) uint8 array of id bodies."""
    upper = ((bodies >= 65) & (bodies <= 90)).astype(np.uint8).reshape(len(bodies), 3, 5)
    return _ALPHABET_BYTES[(upper * _WEIGHTS).sum(axis=2)]


def id18_arrow(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Vectorised id18 for DuckDB (an Arrow UDF): same result as `id18` for every value, NULL when invalid."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.string())
    if values.null_count == len(values):
        return pa.nulls(len(values), pa.string())
    fast = _id18_fixed(values)
    if fast is not None:
        return fast
    trimmed = pc.utf8_trim_whitespace(values)
    length = pc.utf8_length(trimmed)
    valid = pc.fill_null(
        pc.and_(
            pc.and_(pc.string_is_ascii(trimmed), pc.ascii_is_alnum(trimmed)),
            pc.or_(pc.equal(length, 15), pc.equal(length, 18)),
        ),
        False,
    )
    n = len(trimmed)
    data_buf = trimmed.buffers()[2]
    if n == 0 or data_buf is None or data_buf.size == 0:
        return pa.nulls(n, pa.string())
    data = np.frombuffer(data_buf, dtype=np.uint8)
    offsets = np.frombuffer(trimmed.buffers()[1], dtype=np.int32)[trimmed.offset : trimmed.offset + n + 1]
    idx = np.minimum(offsets[:-1, None] + np.arange(18, dtype=np.int32), data.size - 1)
    body = data[idx[:, :15]]
    is18 = np.asarray(pc.fill_null(pc.equal(length, 18), False))
    check = checksum_codes(body)
    given = data[idx[:, 15:]]
    given = np.where((given >= 97) & (given <= 122), given - 32, given)
    ok = np.asarray(valid) & (~is18 | (given == check).all(axis=1))
    out = np.concatenate([body, check], axis=1).tobytes()
    offsets = np.arange(0, 18 * (n + 1), 18, dtype=np.int32).tobytes()
    validity = pa.py_buffer(np.packbits(ok, bitorder="little").tobytes())
    return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(out)])


def _is_alnum(b: np.ndarray) -> np.ndarray:
    return ((b >= 48) & (b <= 57)) | ((b >= 65) & (b <= 90)) | ((b >= 97) & (b <= 122))


def _id18_fixed(values: pa.Array) -> pa.Array | None:
    """The usual chunk (every value 18 letters and digits, as Salesforce exports ids; NULLs, if any, empty) without
    gathering: the values' bytes are one (n, 18) block. None when the chunk is not like that (the general path, which
    trims, handles it)."""
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + n + 1]
    lengths = np.diff(offsets)
    valid = np.ones(n, dtype=bool) if values.null_count == 0 else np.asarray(values.is_valid())
    if not np.array_equal(lengths, np.where(valid, 18, 0)):
        return None
    m = int(valid.sum())
    block = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(m, 18)
    alnum = _is_alnum(block).all(axis=1)
    if not alnum.all():  # a value with spaces (a 15-character id padded to 18 bytes) or other bytes: trim first
        return None
    body = block[:, :15]
    check = checksum_codes(body)
    given = block[:, 15:]
    given = np.where((given >= 97) & (given <= 122), given - 32, given)
    ok = valid.copy()
    ok[valid] = (given == check).all(axis=1)
    out = np.concatenate([body, check], axis=1).tobytes()
    out_offsets = np.concatenate([[0], 18 * np.cumsum(valid, dtype=np.int32)]).astype(np.int32).tobytes()
    validity = None if ok.all() else pa.py_buffer(np.packbits(ok, bitorder="little").tobytes())
    return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(out_offsets), pa.py_buffer(out)])
