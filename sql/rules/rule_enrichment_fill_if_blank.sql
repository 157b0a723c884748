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
paired as (  -- two Clay rows (98 % of the multi-row changes, backfill 1M): the pair joined in (file, row) order, not
    -- aggregated (list() over their 0.88M rows cost 1.6 of this model's 5.6 CPU s; min/max of structs more). The two
    -- rows differ in (file, row): int_enrichment_rows has one row per (Clay row, field), so a <-join keeps one pair
    select
        c.sf_lead_id,
        c.field,
        c.file,
        c.row,
        c.before,
        c.after,
        c.rule_reasons,
        a.file as file_a,
        a.row as row_a,
        a.value as value_a,
        b.file as file_b,
        b.row as row_b,
        b.value as value_b
    from changes as c
    join int_enrichment_rows as a on a.sf_lead_id = c.sf_lead_id and a.field = c.field
    join int_enrichment_rows as b on b.sf_lead_id = c.sf_lead_id and b.field = c.field
    where c.n_rows = 2 and (a.file < b.file or (a.file = b.file and a.row < b.row))
),
gathered as (  -- three or more Clay rows: narrow structs aggregated, widened below (6-field structs cost ~2 CPU s more)
    select r.sf_lead_id, r.field,
           list_sort(list(struct_pack(file := r.file, row := r.row, value := r.value))) as rows
    from int_enrichment_rows as r
    semi join changes as c on c.sf_lead_id = r.sf_lead_id and c.field = r.field and c.n_rows > 2
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
union all
select
    'Lead',
    p.sf_lead_id,
    p.field,
    'enrichment_fill_if_blank',
    p.before,
    p.after,
    p.rule_reasons,
    [
        sfdc_evidence(p.file, p.row, p.field, p.before),
        evidence('clay', p.file_a, p.row_a, case p.field when 'Industry' then $clay_header_industry
            else $clay_header_company_description end, p.value_a, null),
        evidence('clay', p.file_b, p.row_b, case p.field when 'Industry' then $clay_header_industry
            else $clay_header_company_description end, p.value_b, null)
    ]
from paired as p
