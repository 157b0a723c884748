-- Salesforce Leads as the snapshot holds them: ids 18 characters, emails normalised, booleans typed.
-- Grain: one row per Lead. Parameters: none.
select
    sf_id18(id) as lead_id,
    email as email_raw,
    norm_email(email) as email_norm,
    company,
    industry,
    company_description,
    coalesce(sf_bool(external_hard_bounced), false) as external_hard_bounced,
    coalesce(sf_bool(overall_hard_bounced), false) as overall_hard_bounced,
    coalesce(sf_bool(pardot_hard_bounced), false) as pardot_hard_bounced,
    coalesce(sf_bool(cold_lead_eligible), false) as cold_lead_eligible,
    coalesce(sf_bool(has_opted_out), false) as has_opted_out,
    coalesce(sf_bool(is_converted), false) as is_converted,
    status,
    sf_ts(system_modstamp) as system_modstamp,
    clean_text(gbu) as gbu,
    _file as file,
    _row as row
from raw_sfdc__lead
