"""Local stand-ins for the outside systems `reconcile notify` talks to: Jira (Cloud REST v3 and Data Center REST v2),
incoming webhooks (Slack, Teams Workflows, Google Chat) and an SMTP server. Each answers as the real service
documents (the handlers cite the page), on 127.0.0.1 only, for tests and for trying notify offline
(`reconcile standins serve`). None of them is part of reconcile/sandbox (the Salesforce org).
"""
