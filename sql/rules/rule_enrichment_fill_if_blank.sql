-- Rule enrichment_fill_if_blank (Lead.company_description__c, Lead.Industry): Clay fills a blank SFDC field.
-- An existing, different value is an overwrite candidate (blocked overwrite_not_approved); Industry is matched
-- case-insensitively to the picklist and written in its canonical spelling (a value outside the picklist, or
-- longer than the policy's max_length, is blocked by the gate in plan_changes). Several Clay values for one lead
-- → no change (finding conflicting_enrichment). Evidence: sfdc_evidence first (as in every rule), then
-- the Clay rows. Grain: one row per (Lead, field) to change.
-- Parameters: $clay_header_industry, $clay_header_company_description (the Clay headers, for provenance; the
-- picklist comes from a policy table).
with current_values as (
    select sf_lead_id, file, row, 'company_description__c' as field, company_description as current_value
    from stg_sfdc__lead
    union all
    select sf_lead_id, file, row, 'Industry', industry from stg_sfdc__lead
),
picklist as (
    select field, value as canonical, lower(trim(value)) as norm from policy_picklist where object = 'Lead'
),
candidates as (
    select
        v.sf_lead_id,
        v.field,
        cur.file,
        cur.row,
        cur.current_value,
        clean_text(cur.current_value) as current_clean,  -- NULL when blank: spaces, tabs, line breaks, no-break spaces
        case when v.field = 'Industry' then coalesce(p.canonical, v.value) else v.value end as after_value,
        v.n_rows
    from int_enrichment_values as v
    join current_values as cur on cur.sf_lead_id = v.sf_lead_id and cur.field = v.field
    left join picklist as p
        on p.field = v.field and p.norm = enrichment_norm(v.field, v.value)
    where v.agreed
),
changes as (
    select
        sf_lead_id,
        field,
        file,
        row,
        n_rows,
        to_json(current_value) as before,
        to_json(after_value) as after,
        reasons([case when current_clean is not null then 'overwrite_not_approved' end]) as rule_reasons
    from candidates
    where current_clean is null
       or (field = 'Industry' and lower(current_clean) <> lower(after_value))
       or (field <> 'Industry' and current_clean <> after_value)
),
gathered as (  -- several Clay rows: narrow structs aggregated, widened below (6-field structs cost ~2 CPU s more)
    select r.sf_lead_id, r.field,
           list_sort(list(struct_pack(file := r.file, row := r.row, value := r.value))) as rows
    from int_enrichment_rows as r
    semi join changes as c on c.sf_lead_id = r.sf_lead_id and c.field = r.field and c.n_rows > 1
    group by r.sf_lead_id, r.field
)
-- Most changes (843K of 1.28M, backfill 1M) have one Clay row: its evidence is that row, joined, not aggregated
-- (list() over every change's rows under the build's memory limit cost ~3 CPU s more than over the multi-row ones)
select
    'Lead' as object,
    c.sf_lead_id as record_id,
    c.field,
    'enrichment_fill_if_blank' as rule,
    c.before,
    c.after,
    c.rule_reasons,
    [
        sfdc_evidence(c.file, c.row, c.field, c.before),
        evidence('clay', r.file, r.row, case c.field when 'Industry' then $clay_header_industry
            else $clay_header_company_description end, r.value, null)
    ] as evidence
from changes as c
join int_enrichment_rows as r on r.sf_lead_id = c.sf_lead_id and r.field = c.field
where c.n_rows = 1
union all
select
    'Lead',
    c.sf_lead_id,
    c.field,
    'enrichment_fill_if_blank',
    c.before,
    c.after,
    c.rule_reasons,
    list_prepend(
        sfdc_evidence(c.file, c.row, c.field, c.before),
        -- x is the lambda's parameter, which sqlfluff takes for a table (RF01)
        list_transform(e.rows, lambda x: evidence('clay', x.file, x.row, case c.field when 'Industry'  -- noqa: RF01
            then $clay_header_industry else $clay_header_company_description end, x.value, null))  -- noqa: RF01
    )
from changes as c
join gathered as e on e.sf_lead_id = c.sf_lead_id and e.field = c.field
