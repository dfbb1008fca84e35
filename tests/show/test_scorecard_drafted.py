"""The scorecard's decision section for a DRAFT: its banner, every drafted value with
file:line and how to confirm it, and the confirmations the record keeps."""

from __future__ import annotations

from workbench.decide.registry import Decision, GateResult
from workbench.show.scorecard import _decision_section


def test_a_draft_decision_lists_each_drafted_value_with_file_line_and_how_to_confirm() -> None:
    d = Decision(outcome="draft", pilot="p", model_name="m", alias="champion", actor="ana", timestamp="t",
                 gates=(GateResult(name="beats", kind="vs_baseline", passed=True, reason="ok"),),
                 drafted=({"file": "pilots/p/pilot.yaml", "line": 57, "key": "baseline", "text": "baseline:",
                           "why": "today's rule is the <prior>"},
                          {"file": "pilots/p/contracts/t.yml", "line": 12, "key": "columns.age.range",
                           "text": "range: {min: 18, max: 79}", "why": "observed"}),
                 confirmed=({"key": "owner", "file": "pilots/p/pilot.yaml", "text": 'owner: "ana@bank.internal"',
                             "by": "ana", "at": "2026-12-01T10:00:00+00:00"},
                            {"key": "split.kind", "file": "pilots/p/pilot.yaml", "text": "kind: random", "by": "bo",
                             "at": "2026-12-02T10:00:00+00:00", "why": "year may be when each row happened"}))
    html = _decision_section(d)
    assert '<div class="banner draft">DRAFT</div>' in html
    assert "Drafted, not decided (2)" in html and "workbench confirm" in html and "# drafted" in html
    assert "<td>pilots/p/pilot.yaml:57</td>" in html and "<td>pilots/p/contracts/t.yml:12</td>" in html
    assert "today&#x27;s rule is the &lt;prior&gt;" in html  # escaped
    assert "Confirmed drafted values (2)" in html and "<td>2026-12-01 10:00:00 UTC</td>" in html
    # the drafted values' tables may break their cells anywhere: long keys, paths and times stay on the page
    assert html.count('<table class="fit">') == 2
    # what the person answered, beside the answer (a confirmation logged before reasons were kept: a dash)
    assert "<th>why it was drafted</th>" in html and "<td>year may be when each row happened</td>" in html
    assert "<td>owner: &quot;ana@bank.internal&quot;</td><td>—</td>" in html
    go = Decision(outcome="go", pilot="p", model_name="m", alias="champion", actor="ana", timestamp="t")
    assert "Drafted, not decided" not in _decision_section(go) and 'class="banner go"' in _decision_section(go)
