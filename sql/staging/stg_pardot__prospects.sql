-- Pardot (Account Engagement) prospects, v5 names with v3/v4 aliases mapped at ingest.
-- Grain: one row per prospect. Parameters: none.
select
    _file as file,
    _row as row,
    clean_text(prospect_id) as prospect_id,
    email as email_raw,
    norm_email(email) as email_norm,
    coalesce(sf_id18(sf_lead_id), case when sf_id18(sf_id) like '00Q%' then sf_id18(sf_id) end) as sf_lead_id,
    coalesce(sf_id18(sf_contact_id), case when sf_id18(sf_id) like '003%' then sf_id18(sf_id) end) as sf_contact_id,
    is_hard_bounced as is_hard_bounced_raw,
    coalesce(sf_bool(is_hard_bounced), false) as is_hard_bounced,
    sf_ts(bounced_at) as bounced_at,
    sf_ts(updated_at) as updated_at
from raw_pardot__prospects
