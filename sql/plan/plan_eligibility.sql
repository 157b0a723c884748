-- The cold-lead pool now and once the plan's ready changes apply (the eligibility formula on both states).
-- Grain: one row per Lead. Parameters: none.
with contact_emails as (
    select distinct email_norm from stg_sfdc__contact where email_norm is not null
),
bounced_by_plan as (
    select record_id as sf_lead_id
    from plan_changes
    where object = 'Lead' and field = 'external_hard_bounced__c' and status = 'ready'
)
select
    l.sf_lead_id,
    cold_lead_eligible(l.has_opted_out, l.pardot_hard_bounced or l.external_hard_bounced,
                       c.email_norm is not null) as eligible_now,
    cold_lead_eligible(l.has_opted_out, l.pardot_hard_bounced or l.external_hard_bounced or b.sf_lead_id is not null,
                       c.email_norm is not null) as eligible_after
from stg_sfdc__lead as l
left join contact_emails as c on c.email_norm = l.email_norm
left join bounced_by_plan as b on b.sf_lead_id = l.sf_lead_id
