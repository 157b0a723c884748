"""Pulling the non-Salesforce sources into a snapshot, unattended (issue 13).

smartlead.py   Smartlead API v1: campaigns → smartlead/campaign-<id>.csv (leads export), rate-limited
pardot.py      Account Engagement API v5: prospects → pardot/prospects.csv (nextPageToken, the 100k cap)
clay_drop.py   the Clay drop folder: newest export per table → clay/<table>.csv, stale ones refused or flagged
webhook.py     Smartlead webhooks → a durable JSONL spool; spooled days → smartlead/events.jsonl
http.py        the client-side rate limiter and the retrying GET they share
pull_all.py    `reconcile pull --sources …`: every source, one complete snapshot, taken_at per source
Secrets come only from environment variables and are registered with credentials.redact before first use.
"""
