"""reconcile — the auditor and safety net around the Clay ↔ Salesforce connector.

Library first: the CLI and notebooks are thin layers over these modules.
"""

__version__ = "0.1.0"
