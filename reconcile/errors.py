"""One error hierarchy. Every message says what failed, names the thing in quotes, why, and the fix."""


class ReconcileError(Exception):
    """Base of every error the CLI turns into `Error: …` and exit status 1."""

    exit_code = 1


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
    """Apply stopped cleanly (session expired, API limit reached); rerun to resume."""

    exit_code = 3


class SandboxError(ReconcileError):
    """The local sandbox org cannot start or be found as asked."""


class PullError(ReconcileError):
    """A source (Smartlead, Pardot, the Clay drop folder, the webhook spool) could not be pulled as asked."""
