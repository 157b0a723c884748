-- Rule enrichment_fill_if_blank (Lead.company_description__c, Lead.Industry): Clay fills a blank SFDC field.
-- An existing, different value is an overwrite candidate (blocked overwrite_not_approved); Industry is matched
-- case-insensitively to the picklist (canonical spelling written, else invalid_picklist_value); longer than the
-- policy's max_length → too_long. Several Clay values for one lead → no change (finding conflicting_enrichment).
-- Grain: one row per (Lead, field) to change. Parameters: none (picklists and lengths come from policy tables).
with current_values as (
    select lead_id, 'company_description__c' as field, company_description as current_value from stg_sfdc__lead
    union all
    select lead_id, 'Industry', industry from stg_sfdc__lead
),
picklist as (
    select field, value as canonical, lower(trim(value)) as norm from policy_picklist where object = 'Lead'
),
candidates as (
    select
        v.lead_id,
        v.field,
        cur.current_value,
        case when v.field = 'Industry' then coalesce(p.canonical, v.value) else v.value end as after_value,
        v.field = 'Industry' and p.canonical is null as bad_picklist,
        f.max_length
    from int_enrichment_values as v
    join current_values as cur on cur.lead_id = v.lead_id and cur.field = v.field
    left join picklist as p on p.field = v.field and p.norm = v.norm
    left join policy_fields as f on f.object = 'Lead' and lower(f.field) = lower(v.field)
    where v.n_values = 1
),
changes as (
    select *
    from candidates
    where trim(coalesce(current_value, '')) = ''
       or (field = 'Industry' and lower(trim(current_value)) <> lower(after_value))
       or (field <> 'Industry' and trim(current_value) <> after_value)
),
evidence as (  -- narrow structs aggregated (the 6-field evidence structs cost ~2 CPU s more at 1.3M changes), widened below
    select r.lead_id, r.field, any_value(r.col) as col,
           list_sort(list(struct_pack(file := r.file, row := r.row, value := r.value))) as rows
    from int_enrichment_rows as r
    semi join changes as c on c.lead_id = r.lead_id and c.field = r.field
    group by r.lead_id, r.field
)
select
    'Lead' as object,
    c.lead_id as record_id,
    c.field,
    'enrichment_fill_if_blank' as rule,
    to_json(c.current_value) as before,
    to_json(c.after_value) as after,
    list_filter([
        case when c.bad_picklist then 'invalid_picklist_value' end,
        case when length(c.after_value) > c.max_length then 'too_long' end,
        case when trim(coalesce(c.current_value, '')) <> '' then 'overwrite_not_approved' end
    ], lambda r: r is not null) as rule_reasons,
    list_transform(e.rows, lambda x: struct_pack(source := 'clay', file := x.file, row := x.row, "column" := e.col,
                                                 value := x.value, at := cast(null as varchar))) as evidence
from changes as c
join evidence as e on e.lead_id = c.lead_id and e.field = c.field
