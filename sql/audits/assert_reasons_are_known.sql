-- Audit: every blocked reason is one of policy.BLOCKED_REASONS.
-- (A rule cannot invent a reason the report, the approval and apply do not know.)
-- Grain: one row per change with an unknown reason. Parameters: $blocked_reasons.
select object, record_id, field, list_filter(reasons, lambda r: not list_contains($blocked_reasons, r)) as unknown
from plan_changes
where len(list_filter(reasons, lambda r: not list_contains($blocked_reasons, r))) > 0
