-- Audit: every change changes something — its after value differs from its before value.
-- Grain: one row per change whose after equals its before. Parameters: none.
select object, record_id, field, before, after
from plan_changes
where after is not distinct from before
