-- Every rule's candidate change, gated by the policy and the org (the same gate as apply.policy_violations):
-- status ready/blocked with all blocked reasons sorted by $blocked_reasons (policy.BLOCKED_REASONS, SPEC §4's
-- closed order; the first is `reason`). Adds the record's own campaign and GBU (plan_record_context: a Lead has no
-- campaign and its own GBU; a CampaignMember its campaign's), from the record's own row of plan_record_context (one
-- join). Each rule's evidence already starts with the SFDC row of `before` (built there, with the list: prepending
-- it here copied 1.58M evidence lists, ~1.2 CPU s at backfill 1M).
-- Stored in the plan's order (object, record_id, field; reconcile.sql STORED_ORDER) when the sort fits in memory: the
-- plan's changes file is then written from it as stored, so 1.58M changes with their evidence are sorted once.
-- Grain: one row per (object, record, field) change. Parameters: $writable_objects, $blocked_reasons.
with candidates as (
    select * from rule_hard_bounce_union
    union all by name select * from rule_enrichment_fill_if_blank
    union all by name select * from rule_reply_set_once
    union all by name select * from rule_reply_classification_latest
),
picklists as (
    select object, lower(field) as field, list(value) as allowed from policy_picklist group by all
),
gated as (
    select
        c.*,
        x.campaign_id,
        x.gbu,
        -- a checkbox is the two-value picklist {true, false}: any other value is invalid_picklist_value
        reasons([
            case when f.field is null then 'not_in_allowlist' end,
            case when f.status = 'read_only' then 'read_only' end,
            case when not list_contains($writable_objects, c.object) then 'object_not_writable' end,
            case when o.updateable = false then 'org_field_not_updateable' end,
            case when f.status = 'pending_legal' then 'pending_legal' end,
            case when x.is_converted then 'converted_lead' end,
            case when not list_contains(p.allowed, c.after ->> '$') then 'invalid_picklist_value' end,
            case when f.kind = 'checkbox' and coalesce(json_type(c.after), 'NULL') <> 'BOOLEAN'
                 then 'invalid_picklist_value' end,
            case when json_type(c.after) = 'VARCHAR' and sf_too_long(c.after ->> '$', f.max_length) then 'too_long' end
        ]) || c.rule_reasons as found
    from candidates as c
    left join plan_record_context as x on x.object = c.object and x.record_id = c.record_id and x.is_own
    left join policy_fields as f on f.object = c.object and lower(f.field) = lower(c.field)
    left join org_fields as o on o.object = c.object and lower(o.field) = lower(c.field)
    left join picklists as p on p.object = c.object and p.field = lower(c.field)
),
sorted as (  -- in the bound order, whatever order the checks and rules list them in (an unknown reason goes last);
    -- none or one reason is its own order (95 % of the changes at backfill 1M: the lambdas run on the rest only)
    select
        *,
        case
            when len(found) < 2 then found
            else list_filter($blocked_reasons, lambda r: list_contains(found, r))
                || list_filter(found, lambda r: not list_contains($blocked_reasons, r))
        end as reasons
    from gated
)
select
    object,
    record_id,
    field,
    before,
    after,
    rule,
    case when len(reasons) = 0 then 'ready' else 'blocked' end as status,
    reasons[1] as reason,
    reasons,
    evidence,
    campaign_id,
    gbu
from sorted
