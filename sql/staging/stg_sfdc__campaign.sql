-- Salesforce Campaigns (optional file): names and GBU for the report.
-- Grain: one row per Campaign. Parameters: none.
-- <column>__id18 / __bool / __ts / __int: the value parsed once, in the read (sf_id18 / sf_bool / sf_ts / sf_int).
select
    _file as file,
    _row as row,
    id__id18 as sf_campaign_id,
    clean_text(name) as name,
    clean_text(gbu) as gbu
from raw_sfdc__campaign
