"""Injectable faults: row locks, 503s, session expiry, latency, permanent per-record errors, deviating formulas."""

import hashlib
import re
from dataclasses import dataclass, field, fields

LOCK_MESSAGE = "unable to obtain exclusive access to this record or 1 records: {id}"


@dataclass
class Faults:
    lock_fraction: float = 0.0  # share of record ids (chosen by hash) that fail to lock at first
    lock_failures: int = 1  # how many write attempts of such a record fail before it succeeds
    http_503_every: int = 0  # every Nth request answers 503 (0 = off)
    http_503_next: int = 0  # the next K requests answer 503
    # regex -> K: the next K requests whose "METHOD path" it matches answer 503 ({"GET .*/successfulResults$": 1})
    http_503_paths: dict = field(default_factory=dict)
    # regex -> K: the next K requests it matches that succeed are carried out, then answered 503 as if the answer was
    # lost on the way back (a proxy timeout): {"^PATCH .*/jobs/ingest/[^/]+$": 1} closes a Bulk job and says it failed
    http_503_after_paths: dict = field(default_factory=dict)
    expire_after_calls: int | None = None  # after K more requests the integration session is invalid
    latency_ms: int = 0
    fail_records: dict = field(default_factory=dict)  # record id -> (statusCode, message, fields)
    insufficient_access_status: int = 400  # HTTP status of INSUFFICIENT_ACCESS_OR_READONLY (400 or 403)
    # record id -> {formula field: value}: the org's deployed formula evaluates differently from the spec's for
    # these records (a formula edited in Setup, a stale helper checkbox it reads). The API answers this value, as
    # Salesforce answers whatever the deployed formula computes; reconcile's findings are what should notice it.
    formula_values: dict = field(default_factory=dict)
    # A real org runs a closed Bulk API 2.0 ingest job asynchronously: UploadComplete → InProgress → JobComplete
    # (Bulk API 2.0 Developer Guide, "Get Information About a Job" and "Job States",
    # https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_info.htm). N > 0: a
    # closed job writes nothing and answers InProgress to the next N polls of its info, and runs at the poll after;
    # 0 (default): it runs the moment it is closed.
    bulk_processing_polls: int = 0
    _lock_attempts: dict = field(default_factory=dict, repr=False)
    _requests: int = field(default=0, repr=False)

    def update(self, **changes) -> None:
        """Set faults by name; an unknown name is an error that lists the known ones."""
        known = {f.name for f in fields(self) if not f.name.startswith("_")}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"Unknown fault '{name}'; known faults: {', '.join(sorted(known))}.")
            setattr(self, name, value)
        if "lock_fraction" in changes or "lock_failures" in changes:
            self._lock_attempts.clear()

    def next_request_is_503(self, request: str = "") -> bool:
        """Count one request ("METHOD path"); True if it must be answered with 503 SERVER_UNAVAILABLE."""
        self._requests += 1
        for pattern, left in self.http_503_paths.items():
            if left > 0 and re.search(pattern, request):
                self.http_503_paths[pattern] = left - 1
                return True
        if self.http_503_next > 0:
            self.http_503_next -= 1
            return True
        return bool(self.http_503_every) and self._requests % self.http_503_every == 0

    def answer_is_lost(self, request: str) -> bool:
        """True if the answer to this carried-out request ("METHOD path") must be replaced by a 503."""
        for pattern, left in self.http_503_after_paths.items():
            if left > 0 and re.search(pattern, request):
                self.http_503_after_paths[pattern] = left - 1
                return True
        return False

    def session_expires_now(self) -> bool:
        """Count one request against `expire_after_calls`; True once the budget is used up."""
        if self.expire_after_calls is None:
            return False
        if self.expire_after_calls <= 0:
            self.expire_after_calls = None
            return True
        self.expire_after_calls -= 1
        return False

    def record_error(self, record_id: str) -> tuple | None:
        """(statusCode, message, fields) if a write of `record_id` must fail now, else None."""
        if record_id in self.fail_records:
            code, message, names = self.fail_records[record_id]
            return code, message, list(names)
        if self.lock_fraction and _hash_fraction(record_id) < self.lock_fraction:
            attempts = self._lock_attempts.get(record_id, 0) + 1
            self._lock_attempts[record_id] = attempts
            if attempts <= self.lock_failures:
                return "UNABLE_TO_LOCK_ROW", LOCK_MESSAGE.format(id=record_id), []
        return None


def _hash_fraction(record_id: str) -> float:
    digest = hashlib.sha256(record_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
