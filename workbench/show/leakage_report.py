"""The scorecard's "Leakage and shift" section: what the evaluate step's checks found.

Leakage findings (feature, check, evidence) with the charter's acknowledgement of each,
and the shift of every feature between the training rows and the held-out rows (PSI and
the share of held-out rows in a category unseen in training), worst first, sorted as
numbers. Read from the evaluate run's ``leakage/findings.json`` and ``shift/columns.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import formatting as fmt
from .html import Raw, esc, table

__all__ = ["leakage_shift_section", "SHOWN_COLUMNS"]

SHOWN_COLUMNS = 25  # the worst columns; every column is in shift/columns.json


def leakage_shift_section(findings: Sequence[Mapping[str, Any]] | None, acknowledged: Mapping[str, str],
                          shift: Mapping[str, Any] | None, *, run_id: str | None = None,
                          max_psi: float | None = None, max_unseen_share: float | None = None,
                          eval_set: bool = False) -> str:
    """HTML of the section. ``findings`` None: the evaluate run logged no leakage checks.
    ``max_psi`` / ``max_unseen_share``: the charter's shift gate limits, to mark columns beyond them.
    ``eval_set``: an eval-set pilot, whose checks look at its items (among the training items, in a
    prompt), not at features, and which measures no shift (its items are fixed, not a split)."""
    parts = ['<section id="leakage"><h2>Leakage and shift</h2>']
    where = f' <span class="muted">(evaluate run <code>{esc(run_id[:12])}</code>)</span>' if run_id else ""
    parts.append(f"<h3>Leakage checks{where}</h3>")
    if findings is None:
        parts.append('<p class="fail">Not checked: the evaluate step logged no leakage findings, so no GO '
                     "(call <code>s.log_leakage(leakage.check_data(data, s.task, s.spec.split))</code>).</p>")
    elif not findings and eval_set:
        parts.append('<p class="pass">No eval item is among the training items (exactly, or but for case, accents and '
                     "punctuation) or written into a candidate's prompt template.</p>")
    elif not findings:
        parts.append('<p class="pass">No feature carries the answer (target copies, one-to-one codes, near-perfect '
                     "single features, target buckets and ratios, future dates, a random split on dated rows) and no held-out row "
                     "is a copy of a training row.</p>")
    else:
        rows, classes = [], []
        for f in findings:
            reason = acknowledged.get(str(f.get("feature")))
            status = Raw('<span class="pass">acknowledged</span>') if reason else Raw('<span class="fail">blocks GO</span>')
            rows.append((f.get("feature"), f.get("check"), f.get("evidence"), status, reason or "—"))
            classes.append("" if reason else "regress")
        parts.append(table(["feature or rows", "check", "evidence", "status", "acknowledgement (charter leakage.acknowledged)"],
                           rows, row_class=classes))
        if any(f.get("check") == "near_perfect" for f in findings):
            parts.append('<p class="muted">near_perfect is judged by the decision, on the judged candidate\'s '
                         "held-out score; the other checks by the evaluate run, on the training rows.</p>")
    unused = sorted(set(acknowledged) - {str(f.get("feature")) for f in findings or ()})
    if unused:
        parts.append(f'<p class="muted">Acknowledged in the charter but not found this run: {esc(", ".join(unused))}.</p>')
    if eval_set and not shift:
        parts.append('<p class="muted">Shift is not measured on an eval set: its items are fixed, not a split of one '
                     "table.</p></section>")
        return "".join(parts)
    parts.append("<h3>Shift: held-out rows against training rows</h3>")
    columns = list((shift or {}).get("columns") or [])
    if not columns:
        parts.append('<p class="muted">No shift recorded (the evaluate step logged no shift/columns.json).</p>')
    else:
        columns.sort(key=lambda c: (-float(c.get("psi") or 0.0), -float(c.get("unseen_share") or 0.0),
                                    str(c.get("column"))))
        rows, classes = [], []
        for c in columns[:SHOWN_COLUMNS]:
            psi, unseen = float(c.get("psi") or 0.0), float(c.get("unseen_share") or 0.0)
            beyond = (max_psi is not None and psi > max_psi) or (max_unseen_share is not None and unseen > max_unseen_share)
            rows.append((c.get("column"), c.get("kind"), psi, unseen if c.get("kind") == "categorical" else None,
                         int(c.get("unseen_rows") or 0) if c.get("kind") == "categorical" else None))
            classes.append("regress" if beyond else "")
        parts.append(table(["column", "kind", "PSI", "unseen share", "unseen rows"], rows, row_class=classes,
                           formats=[None, None, lambda v: fmt.number(v), lambda v: fmt.by_unit("share", v),
                                    lambda v: fmt.by_unit("count", v)]))
        more = len(columns) - SHOWN_COLUMNS
        limits = ", ".join(x for x in (f"PSI > {max_psi:g}" if max_psi is not None else "",
                                       f"unseen share > {max_unseen_share:g}" if max_unseen_share is not None else "")
                           if x)
        note = (f"{fmt.integer(int(shift.get('train_rows', 0)))} training rows against "  # type: ignore[union-attr]
                f"{fmt.integer(int(shift.get('heldout_rows', 0)))} held-out rows; "  # type: ignore[union-attr]
                "PSI on the training rows' deciles or top categories (0.1: some shift, 0.25: large)"
                + (f"; red: beyond the shift gate ({limits})" if limits else "; not gated (add a `shift` gate)")
                + (f"; {more} more column(s) in shift/columns.json" if more > 0 else "") + ".")
        parts.append(f'<p class="muted">{esc(note)}</p>')
    parts.append("</section>")
    return "".join(parts)
