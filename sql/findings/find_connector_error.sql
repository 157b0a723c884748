-- Finding connector_error: every row of the Clay connector's error log (seed §3.5 weekly review).
-- Grain: one row per logged error. Parameters: none.
select
    'connector_error' as kind,
    coalesce(object, 'Unknown') as object,
    record_id,
    coalesce(field || ': ', '') || coalesce(message, '') as detail,
    iso_ts(error_at) as at,
    [evidence('clay', file, row, 'message', message, iso_ts(error_at))] as evidence
from stg_clay__errors
