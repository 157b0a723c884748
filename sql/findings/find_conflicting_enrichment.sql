-- Finding conflicting_enrichment: Clay holds two different non-blank values for one lead's field; no change.
-- Grain: one row per (Lead, field). Parameters: none.
select
    'conflicting_enrichment' as kind,
    'Lead' as object,
    lead_id as record_id,
    'Clay holds ' || n_values || ' different values for ' || field || '; nothing is written until Clay agrees.'
        as detail,
    cast(null as varchar) as at,
    evidence
from int_enrichment_values
where n_values > 1
