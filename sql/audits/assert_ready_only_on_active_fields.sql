-- Audit: a ready change targets a field the policy lists as active (never pending_legal, read_only or unlisted).
-- Grain: one row per ready change on a field that is not active. Parameters: none.
select c.object, c.record_id, c.field, coalesce(f.status, '(not in the policy)') as policy_status
from plan_changes as c
left join policy_fields as f on f.object = c.object and lower(f.field) = lower(c.field)
where c.status = 'ready' and f.status is distinct from 'active'
