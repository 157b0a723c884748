-- Every finding with its escalation route (policy [routes], seed §3.5); one findings/find_<kind>.sql per kind.
-- Grain: one row per finding. Parameters: $default_route.
with findings as (
    select * from find_bounce_hop_lost
    union all by name select * from find_sender_originated_bounce
    union all by name select * from find_overall_formula_mismatch
    union all by name select * from find_pardot_sync_gap
    union all by name select * from find_deliverability_review
    union all by name select * from find_conflicting_enrichment
    union all by name select * from find_classification_without_reply
    union all by name select * from find_do_not_contact_reply
    union all by name select * from find_eligibility_mismatch
    union all by name select * from find_ambiguous_match
    union all by name select * from find_unmatched_source_row
    union all by name select * from find_connector_error
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
