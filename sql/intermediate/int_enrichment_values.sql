-- Clay enrichment values per Lead and field, with how many distinct values Clay holds and in how many rows
-- (evidence is gathered later, only for the leads that get a change or a finding; n_rows = 1, most changes, needs
-- no aggregation there). Grain: one row per (Lead, field).
-- Parameters: none.
select sf_lead_id, field, count(*) as n_values, min(value) as value, min(norm) as norm, sum(n_rows)::bigint as n_rows
from (  -- distinct values first: two plain aggregates are cheaper than count(distinct) and spill to disk
    select
        sf_lead_id,
        field,
        norm,
        -- min(value) without a copy of every value equal to its norm (all company descriptions) in the state
        case
            when bool_or(value = norm) then least(norm, min(value) filter (where value <> norm))
            else min(value) filter (where value <> norm)
        end as value,
        count(*) as n_rows
    from int_enrichment_rows
    group by sf_lead_id, field, norm
) as distinct_values
group by sf_lead_id, field
