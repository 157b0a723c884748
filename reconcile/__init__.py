"""reconcile — the auditor and safety net around the Clay ↔ Salesforce connector.

Library first: the CLI and notebooks are thin layers over these modules. A concern of several modules has its own
subpackage (ingest/, apply/, report/, notebook/); the rest is flat (README "Layout").
"""

__version__ = "0.1.0"
