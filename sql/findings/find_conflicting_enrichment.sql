-- Finding conflicting_enrichment: Clay holds two different non-blank values for one lead's field; no change.
-- Grain: one row per (Lead, field). Parameters: $clay_header_industry, $clay_header_company_description (the Clay
-- headers, for provenance).
select
    'conflicting_enrichment' as kind,
    'Lead' as object,
    v.sf_lead_id as record_id,
    'Clay holds ' || count(distinct enrichment_norm(v.field, r.value))
        || ' different values for ' || v.field
        || '; nothing is written until Clay agrees.' as detail,
    cast(null as varchar) as at,
    list(evidence('clay', r.file, r.row, case v.field when 'Industry' then $clay_header_industry
        else $clay_header_company_description end, r.value, null) order by r.file, r.row) as evidence
from int_enrichment_values as v
join int_enrichment_rows as r on r.sf_lead_id = v.sf_lead_id and r.field = v.field
where not v.agreed
group by v.sf_lead_id, v.field
