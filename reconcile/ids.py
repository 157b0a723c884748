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


# Byte tests on uint8 arrays, one comparison pass each: uint8 arithmetic wraps, so bytes below the range's start
# become large (a 256-entry lookup table instead gathers through an 8-byte index per byte: ~8× the cost per block).
def _is_upper(b: np.ndarray) -> np.ndarray:
    return (b - 65) < 26


def _is_alnum(b: np.ndarray) -> np.ndarray:
    return ((b - 48) < 10) | (((b | 32) - 97) < 26)  # digits; letters of either case (| 32 lower-cases a letter)


def _to_upper(b: np.ndarray) -> np.ndarray:
    return np.where((b - 97) < 26, b - 32, b)


def checksum_codes(bodies: np.ndarray) -> np.ndarray:
    """id_checksum, vectorised: the (n, 3) uint8 character codes for an (n, 15) uint8 array of id bodies (bit j of
    each group's 5-bit index set when its character j is upper-case: shifts and ors, ~8× cheaper than a weighted
    sum over an axis)."""
    upper = _is_upper(bodies).view(np.uint8).reshape(len(bodies), 3, 5)
    codes = (
        upper[:, :, 0] | (upper[:, :, 1] << 1) | (upper[:, :, 2] << 2) | (upper[:, :, 3] << 3) | (upper[:, :, 4] << 4)
    )
    return _ALPHABET_BYTES[codes]


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
    given = _to_upper(given)
    ok = np.asarray(valid) & (~is18 | (given == check).all(axis=1))
    out = np.concatenate([body, check], axis=1).tobytes()
    offsets = np.arange(0, 18 * (n + 1), 18, dtype=np.int32).tobytes()
    validity = pa.py_buffer(np.packbits(ok, bitorder="little").tobytes())
    return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(out)])


def _id18_fixed(values: pa.Array) -> pa.Array | None:
    """The usual chunk — every value 15 or 18 letters and digits (Salesforce exports 18, Clay tables mix both), NULLs,
    if any, empty — without trimming. None when the chunk is not like that (the general path, which trims, handles
    it). All 18: the values' bytes are one (n, 18) block, and when every value already ends in its upper-case checksum
    (Salesforce's own ids) the result is the input itself, no copy. With the one-pass byte tests above: 0.33 → 0.07
    ms per 2048 18-character ids; Clay's mixed chunks (~1.8M ids at 1M leads) no longer take the general path."""
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + n + 1]
    lengths = np.diff(offsets)
    valid = np.ones(n, dtype=bool) if values.null_count == 0 else np.asarray(values.is_valid())
    if values.null_count and lengths[~valid].any():
        return None
    is18 = lengths[valid] == 18
    if not (is18 | (lengths[valid] == 15)).all():
        return None
    m = len(is18)
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    if not _is_alnum(data[offsets[0] : offsets[-1]]).all():  # spaces (a padded id) or other bytes: trim first
        return None
    if is18.all():
        block = data[offsets[0] : offsets[-1]].reshape(m, 18)
        body, given = block[:, :15], block[:, 15:]
        check = checksum_codes(body)
        if np.array_equal(given, check):
            return values
        matches = (_to_upper(given) == check).all(axis=1)
    else:
        starts = offsets[:-1][valid]
        body = data[starts[:, None] + np.arange(15, dtype=np.int32)]
        check = checksum_codes(body)
        given = data[starts[is18][:, None] + np.arange(15, 18, dtype=np.int32)]
        matches = np.ones(m, dtype=bool)
        matches[is18] = (_to_upper(given) == check[is18]).all(axis=1)
    ok = valid.copy()
    ok[valid] = matches
    out = np.concatenate([body, check], axis=1).tobytes()
    out_offsets = np.concatenate([[0], 18 * np.cumsum(valid, dtype=np.int32)]).astype(np.int32).tobytes()
    validity = None if ok.all() else pa.py_buffer(np.packbits(ok, bitorder="little").tobytes())
    return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(out_offsets), pa.py_buffer(out)])


def id18_corrections(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """For values taken as they are (18 bytes each, see sf_id18_read in sql/macros/values.sql): the positions where
    id18 answers something else — a wrong checksum, a lower-case one, a padded 15-character id — and its answer
    there (NULL when the value is no id)."""
    fixed = id18_arrow(values)
    differs = np.asarray(pc.fill_null(pc.not_equal(fixed, values), True))
    positions = np.flatnonzero(differs)
    return positions, fixed.take(pa.array(positions))


ID_BATCH = 1 << 20  # ids checked per Arrow batch by correct_ids (bounded memory at any size)


def correct_ids(con, table: str, taken: str, parsed: str | None = None) -> None:
    """Check, in bulk, the 18-byte ids a query took as they are (sf_id18_read) into column `taken` of `table`: the
    values are streamed out as Arrow batches, checked by id18_arrow, and the rare ones it answers differently for are
    corrected in `parsed` (default: `taken` itself; a bad checksum becomes NULL). Columns are quoted identifiers.
    The Arrow function runs under Python's lock: called on every value in the query it held DuckDB to one thread."""
    reader = con.sql(f"select rowid, {taken} from {table} where strlen({taken}) = 18")
    fixes = []
    for batch in reader.to_arrow_reader(ID_BATCH):
        positions, fixed = id18_corrections(batch.column(1))
        if len(positions):
            fixes.append(pa.table({"rid": batch.column(0).take(pa.array(positions)), "v": fixed}))
    if fixes:
        con.register("id_fixes", pa.concat_tables(fixes))
        try:
            con.execute(f"update {table} set {parsed or taken} = f.v from id_fixes as f where {table}.rowid = f.rid")
        finally:
            con.unregister("id_fixes")
