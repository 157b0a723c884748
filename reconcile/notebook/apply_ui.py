"""The apply notebook's confirmation panel: the CRM Admin names themself, ticks field groups, presses Apply.

    panel = ApplyPanel("reports/2026-11-27-3f9a1c2b/plan.json", client_factory=connect)
    panel                                  # shown in the notebook

Before anything else the panel connects (identity only) and shows where Apply writes: the instance URL, the
user it authenticates as, the org and the policy file — the same org policy as `reconcile apply --org`.
Nothing is written until the Apply button is enabled (an approver from the policy, at least one ticked
field group, an override reason when the policy's gates apply, a replace reason when the plan is already
approved) and pressed. Pressing it records the approval (`approval.approve`) and applies it
(`apply.apply_plan`) — both bound to the plan_id the panel displayed, so a plan swapped on disk after review
is refused — with a progress bar, then shows the outcomes and the audit rows.
Overwrite candidates (changes blocked only by `overwrite_not_approved`) get their own tick boxes and need a
reason; Legal, read-only and allowlist blocks are never offered.
Tests drive it with `panel.name.value = …`, `panel.field_boxes[key].value = True`, `panel.click_apply()`.
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as w

from ..apply import audit
from .. import planfile
from ..apply.apply import apply_plan
from ..approval import approval_path, approve, plan_gates
from ..errors import ReconcileError
from ..plan import load_plan
from ..policy import load_policy, policy_path

AUDIT_ROWS_SHOWN = 200
AUDIT_COLUMNS = tuple(c for c in audit.COLUMNS if c not in ("plan_id", "job_id", "prev_hash", "row_hash"))  # as shown


class ApplyPanel(w.VBox):
    """Approve-and-apply form for one plan; `client_factory()` connects once, to show the target before Apply."""

    def __init__(
        self, plan_path: str | Path, client_factory, db: str | Path | None = None, policy=None, org: str | None = None
    ):
        self.plan_path, self.client_factory, self.org = Path(plan_path), client_factory, org or None
        self.policy = load_policy(policy_path(policy, self.org))
        self.db = Path(db) if db else self.plan_path.parent / "reconcile.duckdb"
        self.plan = load_plan(self.plan_path)
        self.plan_id = self.plan["plan_id"]  # what the person reviews is what gets approved and applied
        self.gates = plan_gates(self.plan, self.policy)
        self.approved_before = approval_path(self.plan_path).exists()
        self.client, self.target = None, {}
        try:
            self.client = client_factory()
            self.target = target_of(self.client, self.org, self.policy)
        except ReconcileError as e:
            self.target = {"error": str(e)}
        self.result = None
        self.error: str | None = None
        self.name = w.Text(description="Approver", placeholder="your name", style={"description_width": "120px"})
        self.field_boxes = {key: self._field_box(key, c) for key, c in self.plan["summary"]["by_field"].items()}
        self.release_boxes = {
            key: w.Checkbox(
                value=False,
                indent=False,
                layout=w.Layout(width="640px"),
                description=f"also overwrite {n:,} existing value(s) of {key}",
            )
            for key, n in _releasable(self.plan).items()
        }
        self.release_reason = w.Text(
            description="Overwrite reason",
            placeholder="why existing values may be replaced",
            style={"description_width": "120px"},
            layout=w.Layout(width="640px"),
        )
        self.gate_reason = w.Text(
            description="Gate override",
            placeholder="why the blast radius is acceptable",
            style={"description_width": "120px"},
            layout=w.Layout(width="640px"),
        )
        self.replace_reason = w.Text(
            description="Replace reason",
            placeholder="why the earlier approval is replaced",
            style={"description_width": "120px"},
            layout=w.Layout(width="640px"),
        )
        self.apply_button = w.Button(description="Apply", button_style="danger", icon="check", disabled=True)
        self.progress = w.IntProgress(value=0, min=0, max=1, description="Progress")
        self.output = w.HTML()
        for widget in [
            self.name,
            self.gate_reason,
            self.release_reason,
            self.replace_reason,
            *self.field_boxes.values(),
            *self.release_boxes.values(),
        ]:
            widget.observe(self._refresh, names="value")
        self.apply_button.on_click(self._on_click)
        super().__init__(children=self._layout())

    @property
    def has_gates(self) -> bool:
        return bool(self.gates)

    def ticked(self) -> list[str]:
        return [key for key, box in self.field_boxes.items() if box.value]

    def released(self) -> list[str]:
        return [key for key, box in self.release_boxes.items() if box.value]

    def ready(self) -> bool:
        """True when Apply may be pressed."""
        return bool(
            self.client is not None
            and self.name.value.strip()
            and (self.ticked() or self.released())
            and (not self.has_gates or self.gate_reason.value.strip())
            and (not self.approved_before or self.replace_reason.value.strip())
            and (not self.released() or self.release_reason.value.strip())
        )

    def click_apply(self) -> None:
        """The same as pressing the button (does nothing while it is disabled)."""
        self.apply_button.click()

    def _field_box(self, key: str, counts: dict) -> w.Checkbox:
        ready, blocked = counts["ready"], counts["blocked"]
        return w.Checkbox(
            value=False,
            description=f"{key} — {ready:,} ready, {blocked:,} blocked",
            disabled=ready == 0,
            indent=False,
            layout=w.Layout(width="640px"),
        )

    def _layout(self) -> list:
        head = w.HTML(
            f"<b>Plan</b> <code>{html.escape(self.plan_id)}</code> — tick the field groups to "
            "write; blocked changes are never written."
        )
        gates = (
            [w.HTML("<b>⚠ " + "<br>".join(html.escape(g["message"]) for g in self.gates) + "</b>"), self.gate_reason]
            if self.has_gates
            else []
        )
        replace = (
            [
                w.HTML(
                    "<b>This plan is already approved.</b> A new approval replaces it (both stay in the "
                    "approval history); say why."
                ),
                self.replace_reason,
            ]
            if self.approved_before
            else []
        )
        releases = (
            [
                w.HTML(
                    "<b>Overwrite candidates</b> (existing values Clay would replace; seed 3.3: only with "
                    "explicit approval)"
                ),
                *self.release_boxes.values(),
                self.release_reason,
            ]
            if self.release_boxes
            else []
        )
        return [
            head,
            w.HTML(_target_html(self.target)),
            self.name,
            *self.field_boxes.values(),
            *releases,
            *gates,
            *replace,
            self.apply_button,
            self.progress,
            self.output,
        ]

    def _refresh(self, _change=None) -> None:
        self.apply_button.disabled = not self.ready()

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.max, self.progress.value = max(total, 1), done

    def _on_click(self, _button=None) -> None:
        if self.apply_button.disabled or not self.ready():
            return
        self.apply_button.disabled, self.error = True, None
        self.output.value = "<i>Approving and applying…</i>"
        try:
            released = self.released()
            approve(
                self.plan_path,
                by=self.name.value,
                fields=sorted(set(self.ticked()) | set(released)),
                override_gate=self.gate_reason.value if self.has_gates else None,
                release_fields=released or None,
                release_reason=self.release_reason.value if released else None,
                policy=self.policy,
                db=self.db,
                expected_plan_id=self.plan_id,
                replace=self.replace_reason.value if self.approved_before else None,
            )
            self.approved_before = True
            self.result = apply_plan(
                self.plan_path,
                client=self.client,
                db=self.db,
                policy=self.policy,
                progress=self._on_progress,
                expected_plan_id=self.plan_id,
            )
        except ReconcileError as e:
            self.error = str(e)
            self.output.value = f'<p style="color:#b00020"><b>Error:</b> {html.escape(self.error)}</p>'
            self._refresh()
            return
        self.progress.value = self.progress.max
        self.output.value = self._results_html()

    def _results_html(self) -> str:
        counts = [{"outcome": k, "changes": n} for k, n in self.result.counts.items()]
        rows = audit.query(self.db, plan_id=self.result.plan_id)
        files = "".join(
            f"<li>{html.escape(k)}: <code>{html.escape(str(p))}</code></li>"
            for k, p in sorted(self.result.files.items())
        )
        return (
            f"<h4>Apply run {html.escape(self.result.run_id)}: outcomes</h4>{_table(counts, ('outcome', 'changes'))}"
            f"<h4>Audit rows ({len(rows):,}; last {min(len(rows), AUDIT_ROWS_SHOWN)} shown)</h4>"
            f"{_table(rows[-AUDIT_ROWS_SHOWN:], AUDIT_COLUMNS)}<h4>Files</h4><ul>{files}</ul>"
        )


def target_of(client, org: str | None, policy) -> dict:
    """Where Apply writes: the instance URL, the user the session authenticates as, the org and its policy."""
    info = client.userinfo()
    return {
        "instance_url": f"https://{client.sf.sf_instance}",
        "user": info.get("preferred_username"),
        "user_name": info.get("name"),
        "org": org or "(default: SF_* variables)",
        "policy": policy.path,
        "policy_org": policy.org_name,
    }


def _target_html(t: dict) -> str:
    if "error" in t:
        return f'<p style="color:#b00020"><b>Not connected:</b> {html.escape(t["error"])} Apply stays disabled.</p>'
    return (
        "<p><b>Writes to</b> <code>{instance_url}</code> <b>as</b> <code>{user}</code> ({user_name}) — org "
        "<code>{org}</code>, policy <code>{policy}</code> (org name {policy_org})</p>"
    ).format(**{k: html.escape(str(v)) for k, v in t.items()})


def _releasable(plan: dict) -> dict[str, int]:
    """Fields whose overwrite candidates only an explicit approval can release (sole reason overwrite_not_approved)."""
    return dict(
        planfile.pairs(
            plan,
            "select object || '.' || field, count(*) from changes "
            "where reasons = ['overwrite_not_approved'] group by 1 order by 1",
        )
    )


TABLE_STYLE = (
    "<style>.apply-results{border-collapse:collapse;font:12px/1.4 system-ui,sans-serif;margin:4px 0 12px}"
    ".apply-results th,.apply-results td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;"
    "vertical-align:top;white-space:nowrap}.apply-results th{background:#f6f8fa;position:sticky;top:0}"
    ".apply-results td.wrap{white-space:normal;max-width:28em;overflow-wrap:anywhere}"
    ".apply-scroll{max-height:420px;max-width:100%;overflow:auto}</style>"
)
WRAPPED = {"message", "before", "after"}


def _table(rows: list[dict], columns: tuple[str, ...]) -> str:
    """An escaped, styled HTML table of `rows` (dicts) with `columns`, scrolling inside the panel (not cut off)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    cls = {c: ' class="wrap"' if c in WRAPPED else "" for c in columns}
    body = "".join(
        "<tr>"
        + "".join(f"<td{cls[c]}>{html.escape('' if r.get(c) is None else str(r.get(c)))}</td>" for c in columns)
        + "</tr>"
        for r in rows
    )
    return (
        f'{TABLE_STYLE}<div class="apply-scroll"><table class="apply-results"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )
