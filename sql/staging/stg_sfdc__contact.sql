-- Salesforce Contacts (read-only context for eligibility and matching).
-- Grain: one row per Contact. Parameters: none.
-- <column>__id18 / __bool / __ts / __int: the value parsed once, in the read (sf_id18 / sf_bool / sf_ts / sf_int).
select
    id__id18 as sf_contact_id,
    email as email_raw,
    norm_email(email) as email_norm,
    _file as file,
    _row as row
from raw_sfdc__contact
