-- Audit: the plan holds at most one change per (object, record, field).
-- (Two rules never write one field.) Grain: one row per (object, record, field) with more than one change. Parameters: none.
select object, record_id, field, count(*) as changes
from plan_changes
group by object, record_id, field
having count(*) > 1
