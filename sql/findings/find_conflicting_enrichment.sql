-- Finding conflicting_enrichment: Clay holds two different non-blank values for one lead's field; no change.
-- Grain: one row per (Lead, field). Parameters: none.
select
    'conflicting_enrichment' as kind,
    'Lead' as object,
    v.sf_lead_id as record_id,
    'Clay holds ' || any_value(v.n_values) || ' different values for ' || v.field
        || '; nothing is written until Clay agrees.' as detail,
    cast(null as varchar) as at,
    list(evidence('clay', r.file, r.row, r.col, r.value, null) order by r.file, r.row) as evidence
from int_enrichment_values as v
join int_enrichment_rows as r on r.sf_lead_id = v.sf_lead_id and r.field = v.field
where v.n_values > 1
group by v.sf_lead_id, v.field
