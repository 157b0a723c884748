-- Audit: every finding has a route (someone owns it: policy [routes], else the default route).
-- Grain: one row per finding without a route. Parameters: none.
select kind, object, record_id, detail
from plan_findings
where coalesce(trim(route), '') = ''
