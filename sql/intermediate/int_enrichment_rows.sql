-- Clay enrichment values (trimmed, non-blank) with the Lead each Clay row reaches, one row per Clay value.
-- Industry values compare case-insensitively (`norm`; the picklist decides the spelling).
-- Grain: one row per (Clay row, field).
-- Parameters: $clay_header_company_description, $clay_header_industry (Clay headers, for provenance).
select i.sf_lead_id, 'company_description__c' as field, c.company_description as value,
       c.company_description as norm, c.file, c.row, $clay_header_company_description as col
from stg_clay__rows as c
join int_source_rows_matched as i on i.source = 'clay' and i.file = c.file and i.row = c.row
where c.company_description is not null and i.sf_lead_id is not null
union all
select i.sf_lead_id, 'Industry', c.industry, lower(c.industry), c.file, c.row, $clay_header_industry
from stg_clay__rows as c
join int_source_rows_matched as i on i.source = 'clay' and i.file = c.file and i.row = c.row
where c.industry is not null and i.sf_lead_id is not null
