-- The Clay connector's error log export (seed §3.5: the CRM Admin's weekly review).
-- Grain: one row per logged error. Parameters: none.
select
    _file as file,
    _row as row,
    sf_ts(time) as error_at,
    clean_text(object) as object,
    coalesce(sf_id18(record_id), clean_text(record_id)) as record_id,
    clean_text(field) as field,
    clean_text(message) as message
from raw_clay__errors
