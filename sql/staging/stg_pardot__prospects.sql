-- Pardot (Account Engagement) prospects, v5 names with v3/v4 aliases mapped at ingest.
-- Grain: one row per prospect. Parameters: none.
-- <column>__id18 / __bool / __ts / __int: the value parsed once, in the read (sf_id18 / sf_bool / sf_ts / sf_int).
select
    _file as file,
    _row as row,
    clean_text(prospect_id) as pardot_prospect_id,
    email as email_raw,
    norm_email(email) as email_norm,
    coalesce(sf_lead_id__id18, case when sf_id__id18 like '00Q%' then sf_id__id18 end) as sf_lead_id,
    coalesce(sf_contact_id__id18, case when sf_id__id18 like '003%' then sf_id__id18 end) as sf_contact_id,
    is_hard_bounced as is_hard_bounced_raw,
    coalesce(is_hard_bounced__bool, false) as is_hard_bounced,
    bounced_at__ts as bounced_at,
    updated_at__ts as updated_at
from raw_pardot__prospects
