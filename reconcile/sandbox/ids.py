"""Salesforce record ids: 15 → 18 characters (case-safe checksum), generation, validation."""

import re
import string

_CHECKSUM_ALPHABET = string.ascii_uppercase + "012345"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")


def checksum(id15: str) -> str:
    """The three suffix characters Salesforce appends to a 15-character id. A copy of reconcile.ids.id_checksum on
    purpose: the sandbox is an independent fake org, so a bug in the workbench's checksum cannot hide itself here."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for pos, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << pos
        suffix += _CHECKSUM_ALPHABET[bits]
    return suffix


def to18(record_id: str) -> str:
    """Return the 18-character form of a 15- or 18-character id (unchanged if neither)."""
    if len(record_id) == 15 and record_id.isalnum():
        return record_id + checksum(record_id)
    return record_id


def is_valid(record_id: object, prefix: str | None = None) -> bool:
    """True if `record_id` is a well-formed 15/18-character id (with the given key prefix)."""
    if not isinstance(record_id, str) or not _ID_RE.match(record_id):
        return False
    if len(record_id) == 18 and checksum(record_id[:15]) != record_id[15:]:
        return False
    return prefix is None or record_id.startswith(prefix)


def make_id(prefix: str, seq: int) -> str:
    """A deterministic 18-character id: key prefix, pod '8d', base-62 sequence number."""
    digits = ""
    while seq:
        seq, rem = divmod(seq, 62)
        digits = _BASE62[rem] + digits
    body = (prefix + "8d" + digits.rjust(10, "0"))[:15]
    return body + checksum(body)
