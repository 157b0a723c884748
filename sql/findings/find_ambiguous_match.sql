-- Finding ambiguous_match: a source row whose email matches several Leads; nothing is changed for it.
-- Grain: one row per source row. Parameters: none.
select
    'ambiguous_match' as kind,
    'Lead' as object,
    cast(null as varchar) as record_id,
    'Email ' || coalesce(email_norm, '') || ' matches ' || len(candidates) || ' Leads ('
        || array_to_string(candidates, ', ') || '); nothing is changed for this row.' as detail,
    cast(null as varchar) as at,
    [evidence(source, file, row, case when given_id is not null then id_column else email_column end,
              coalesce(given_id, email_raw), null)] as evidence
from int_source_rows_matched
where match = 'ambiguous'
