-- Salesforce Contacts (read-only context for eligibility and matching).
-- Grain: one row per Contact. Parameters: none.
select
    sf_id18(id) as contact_id,
    email as email_raw,
    norm_email(email) as email_norm,
    _file as file,
    _row as row
from raw_sfdc__contact
