-- Audit: a change's `reason` is the first of its `reasons`, and it is ready exactly when it has no reason.
-- Grain: one row per change breaking either. Parameters: none.
select object, record_id, field, status, reason, reasons
from plan_changes
where reason is distinct from reasons[1]
   or status is distinct from case when len(reasons) = 0 then 'ready' else 'blocked' end
