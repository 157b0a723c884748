-- Salesforce Leads as the snapshot holds them: ids 18 characters, emails normalised, booleans typed.
-- Grain: one row per Lead. Parameters: none.
-- <column>__id18 / __bool / __ts / __int: the value parsed once, in the read (sf_id18 / sf_bool / sf_ts / sf_int).
select
    id__id18 as sf_lead_id,
    email as email_raw,
    norm_email(email) as email_norm,
    company,
    industry,
    company_description,
    coalesce(external_hard_bounced__bool, false) as external_hard_bounced,
    coalesce(overall_hard_bounced__bool, false) as overall_hard_bounced,
    coalesce(pardot_hard_bounced__bool, false) as pardot_hard_bounced,
    coalesce(cold_lead_eligible__bool, false) as cold_lead_eligible,
    coalesce(has_opted_out__bool, false) as has_opted_out,
    coalesce(is_converted__bool, false) as is_converted,
    status,
    system_modstamp__ts as system_modstamp,
    clean_text(gbu) as gbu,
    _file as file,
    _row as row
from raw_sfdc__lead
