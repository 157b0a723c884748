-- Clay enrichment values per Lead and field: whether Clay's rows agree (one value, Industry compared
-- case-insensitively), the value (the smallest spelling) and in how many rows Clay holds it. Evidence is gathered
-- later, only for the leads that get a change or a finding (n_rows = 1, most changes, needs no aggregation there);
-- how many different values a disagreeing Lead has is counted by find_conflicting_enrichment, for those Leads only.
-- Agreement compares 64-bit hashes of the normalised values (min = max): string min/max states took 10M leads from
-- 8 to 22 s. Two different values of one Lead's field sharing a hash (~1 in 1.8e19 per pair) would read as agreeing.
-- Grain: one row per (Lead, field). Parameters: none.
select
    sf_lead_id,
    field,
    min(norm_hash) = max(norm_hash) as agreed,
    min(value) as value,
    count(*)::bigint as n_rows
from (
    select sf_lead_id, field, value, hash(enrichment_norm(field, value)) as norm_hash
    from int_enrichment_rows
) as r
group by sf_lead_id, field
