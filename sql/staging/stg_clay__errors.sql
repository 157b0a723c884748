-- The Clay connector's error log export (seed §3.5: the CRM Admin's weekly review).
-- Grain: one row per logged error. Parameters: none.
-- <column>__id18 / __bool / __ts / __int: the value parsed once, in the read (sf_id18 / sf_bool / sf_ts / sf_int).
select
    _file as file,
    _row as row,
    time__ts as error_at,
    clean_text(object) as object,
    coalesce(sf_id18(record_id), clean_text(record_id)) as record_id,
    clean_text(field) as field,
    clean_text(message) as message
from raw_clay__errors
