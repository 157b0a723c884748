-- Clay table exports (all files under clay/ but errors.*), columns mapped by the policy.
-- Grain: one row per Clay export row. Parameters: $clay_taken_at (when Clay was exported).
select
    _file as file,
    _row as row,
    sf_id18(campaign_member_id) as cm_id,
    sf_id18(lead_id) as lead_id,
    email as email_raw,
    norm_email(email) as email_norm,
    clean_text(company_description) as company_description,
    clean_text(industry) as industry,
    clean_text(smartlead_lead_id) as sl_lead_id,
    clean_text(smartlead_campaign_id) as sl_campaign_id,
    hard_bounced as hard_bounced_raw,
    coalesce(sf_bool(hard_bounced), false) as hard_bounced,
    replied as replied_raw,
    coalesce(sf_bool(replied), false) as replied,
    clean_text(reply_category) as reply_category,
    coalesce(sf_ts(reply_at), cast($clay_taken_at as timestamptz)) as reply_at,
    clean_text(email_validation) as email_validation
from raw_clay__rows
