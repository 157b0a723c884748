-- Clay enrichment values per Lead and field, with how many distinct values Clay holds (evidence is gathered
-- later, only for the few leads that get a change or a finding). Grain: one row per (Lead, field).
-- Parameters: none.
select
    lead_id,
    field,
    count(distinct norm) as n_values,
    min(value) as value,
    min(norm) as norm
from int_enrichment_rows
group by lead_id, field
