-- Every finding with its escalation route (policy [routes], seed §3.5).
-- Grain: one row per finding. Parameters: $default_route.
with findings as (
    select * from find_bounce_signals
    union all by name select * from find_formula_checks
    union all by name select * from find_deliverability_review
    union all by name select * from find_conflicting_enrichment
    union all by name select * from find_reply_checks
    union all by name select * from find_eligibility_mismatch
    union all by name select * from find_identity
    union all by name select * from find_connector_errors
)
select
    f.kind,
    f.object,
    f.record_id,
    coalesce(r.route, $default_route) as route,
    f.detail,
    f.at,
    f.evidence
from findings as f
left join policy_routes as r on r.kind = f.kind
