"""The precedence rules' invariants, checked by apply against the live record it re-reads — never the plan.

The rule of a field comes from the policy (its `rule`), not from the change: a plan cannot relabel a change.

  hard_bounce_only_false_to_true    hard-bounce fields (rule hard_bounce_union) only go false → true
  replied_only_false_to_true        Has_Replied__c (rule reply_set_once) only goes false → true
  enrichment_fill_if_blank          enrichment (rule enrichment_fill_if_blank) only fills a blank field, unless
                                    the signed approval releases that field or record with a reason (a fill
                                    whose blank field was filled since the snapshot is drifted, not refused)
  inactive_picklist_value           a picklist value the org's describe does not list as active
  (the allowlist itself: apply.policy_violations)
"""

from __future__ import annotations

from ..policy import FieldPolicy

SET_ONCE_TRUE = {"hard_bounce_union": "hard_bounce_only_false_to_true", "reply_set_once": "replied_only_false_to_true"}
FILL_IF_BLANK = "enrichment_fill_if_blank"


# the characters the plan's clean_text strips (sql/macros/values.sql trim_space): str.strip() keeps zero-width spaces
_SPACE = " \t\n\r\u00a0\u200b\ufeff"


def _blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip(_SPACE))


def live_violation(
    change: dict, fp: FieldPolicy | None, current, released: bool, active_values: frozenset[str] | None = None
) -> str | None:
    """The name of the invariant this change breaks given the record's current value, or None."""
    after = change["after"]
    if active_values is not None and after is not None and after not in active_values:
        return "inactive_picklist_value"
    if fp is None:
        return None  # not in the allowlist: policy_violations refuses it; an undo plan passes None
    if fp.rule in SET_ONCE_TRUE and (after is not True or current is True):
        return SET_ONCE_TRUE[fp.rule]
    if fp.rule == FILL_IF_BLANK and not _blank(current) and not released:
        # a fill planned against a blank field that someone filled since the snapshot is drift (SPEC §7: apply
        # writes neither); only a plan that asks to overwrite a value it saw breaks the invariant
        return FILL_IF_BLANK if not _blank(change.get("before")) else None
    return None
