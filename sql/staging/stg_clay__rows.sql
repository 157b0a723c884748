-- Clay table exports (all files under clay/ but errors.*), columns mapped by the policy. Text values drop the `'`
-- a spreadsheet-safe CSV puts before a formula trigger (unsheet: the member export coming back through Clay).
-- Grain: one row per Clay export row. Parameters: $clay_taken_at (when Clay was exported).
-- <column>__id18 / __bool / __ts / __int: the value parsed once, in the read (sf_id18 / sf_bool / sf_ts / sf_int).
select
    _file as file,
    _row as row,
    campaign_member_id__id18 as sf_campaign_member_id,
    lead_id__id18 as sf_lead_id,
    unsheet(email) as email_raw,
    norm_email(unsheet(email)) as email_norm,
    clean_text(unsheet(company_description)) as company_description,
    clean_text(unsheet(industry)) as industry,
    clean_text(unsheet(smartlead_lead_id)) as smartlead_lead_id,
    clean_text(unsheet(smartlead_campaign_id)) as smartlead_campaign_id,
    hard_bounced as hard_bounced_raw,
    coalesce(hard_bounced__bool, false) as hard_bounced,
    replied as replied_raw,
    coalesce(replied__bool, false) as replied,
    clean_text(unsheet(reply_category)) as reply_category,
    coalesce(reply_at__ts, cast($clay_taken_at as timestamptz)) as reply_at,
    clean_text(unsheet(email_validation)) as email_validation
from raw_clay__rows
