-- Clay enrichment values per Lead and field (trimmed, non-blank), with how many distinct values Clay holds.
-- Industry values compare case-insensitively (the picklist decides the spelling).
-- Grain: one row per (Lead, field). Parameters: $h_company_description, $h_industry (Clay headers).
with clay_values as (
    select i.lead_id, 'company_description__c' as field, c.company_description as value,
           c.company_description as norm, c.file, c.row, $h_company_description as col
    from stg_clay__rows as c
    join int_source_rows_matched as i on i.file = c.file and i.row = c.row
    where c.company_description is not null and i.lead_id is not null
    union all
    select i.lead_id, 'Industry', c.industry, lower(c.industry), c.file, c.row, $h_industry
    from stg_clay__rows as c
    join int_source_rows_matched as i on i.file = c.file and i.row = c.row
    where c.industry is not null and i.lead_id is not null
)
select
    lead_id,
    field,
    count(distinct norm) as n_values,
    min(value) as value,
    min(norm) as norm,
    list(struct_pack(source := 'clay', file := file, row := row, "column" := col, value := value,
                     at := cast(null as varchar)) order by file, row) as evidence
from clay_values
group by lead_id, field
