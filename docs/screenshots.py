"""Regenerate the README's screenshots in docs/img/ (`make screenshots`).

A small real pilot in a temporary folder, as a user would make it: `workbench new` on a
customers table (with a few columns built to raise profile alerts), every drafted value
confirmed, `workbench run`, then four production batches through `workbench monitor` (the
last ones drifted). Headless Chromium (Debian's, driven by Playwright as the browser tests
do: `.ci/install-browser`) then photographs the scorecard, the profile report's alerts and
the monitor run's charts. About two minutes; nothing outside the temporary folder and
docs/img/ is touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
IMG = REPO / "docs" / "img"
CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
ENV = {**os.environ, "GX_ANALYTICS_ENABLED": "False", "MLFLOW_DISABLE_TELEMETRY": "true"}


def customers(n: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    """Customers who churn or stay; ``shift`` moves the plans and tenures (a drifted batch that
    still keeps its contract: the same plans, tenures within the observed range)."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "pro"], n, p=[0.5 - shift / 2.5, 0.3, 0.2 + shift / 2.5])
    visits = rng.poisson(5, n)
    tenure = np.where(rng.uniform(size=n) < shift, rng.integers(1, 8, n), rng.integers(1, 60, n))
    amount = (rng.lognormal(3.5, 1.1, n) * (1 + shift)).round(2)  # skewed
    logit = -1 + 0.5 * (visits - 5) - 0.05 * tenure + 0.01 * amount + (plan == "basic") * 1.2
    churned = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    promo = np.where(rng.uniform(size=n) < 0.8, None, rng.choice(["spring", "autumn"], n))  # mostly missing
    return pd.DataFrame({"customer_id": np.arange(seed * 100_000, seed * 100_000 + n), "plan": plan,
                         "visits": visits, "tenure": tenure, "amount": amount, "promo_code": promo,
                         "email": [f"user{seed}_{i}@example.org" for i in range(n)], "churned": churned})


def workbench(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, env=ENV,
                          timeout=900)
    if done.returncode not in (0, 3, 6, 7):  # GO, NO-GO, a monitored breach, DRAFT: all finished
        raise SystemExit(f"workbench {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def main() -> None:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(REPO))
    from workbench.show.monitoring import TIMELINE_ARTIFACT
    from workbench.store.tracking import Store

    IMG.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wb-shots-") as tmp:
        root = Path(tmp)
        customers(2000, 1).to_csv(root / "customers.csv", index=False)
        workbench("new", "churn", "--data", str(root / "customers.csv"), "--target", "churned",
                  "--dir", str(root / "pilots"), "--owner", "oncall@pilot-team.internal")
        charter = root / "pilots" / "churn" / "pilot.yaml"
        workbench("confirm", "--pilot", str(charter), "--all", "--by", "screenshots")
        ran = workbench("run", "--pilot", str(charter))
        if "outcome: GO" not in ran:  # monitoring needs a champion
            raise SystemExit("the screenshots' pilot did not reach GO:\n" + ran)
        batches = []
        for week, shift in enumerate((0.0, 0.0, 0.4, 0.8), 1):
            path = root / f"week{week}.csv"
            customers(600, 10 + week, shift=shift).to_csv(path, index=False)
            batches += ["--batch", str(path)]
        workbench("monitor", "--pilot", str(charter), *batches)
        workbench("report", "--pilot", str(charter))  # the scorecard again, now with the monitoring
        store = Store(charter.parent)
        pilot = store.newest_pilot_run("churn", complete=True)
        card = charter.parent / "reports" / "churn" / f"{pilot.info.run_id}.html"
        monitor_runs = store.find_runs("churn", "tags.`workbench.kind` = 'monitor'", max_results=1)
        timeline = root / "timeline.html"
        timeline.write_text(store.download_text(monitor_runs[0].info.run_id, TIMELINE_ARTIFACT), encoding="utf-8")
        profile = next((card.parent / pilot.info.run_id / "profile_report").glob("*.html"))  # the copy beside it

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            page.goto(card.as_uri())
            page.locator("#decision").wait_for()
            page.screenshot(path=str(IMG / "scorecard.png"))
            page.goto(profile.as_uri())
            page.locator("#alerts").screenshot(path=str(IMG / "profile-alerts.png"))
            page.set_viewport_size({"width": 1000, "height": 760})
            page.goto(timeline.as_uri())
            page.locator(".mon-charts").first.wait_for()
            page.screenshot(path=str(IMG / "monitor-chart.png"))  # the metrics' charts, then the drifted columns'
            page.set_viewport_size({"width": 1280, "height": 900})
            browser.close()
    for name in ("scorecard.png", "profile-alerts.png", "monitor-chart.png"):
        print(f"docs/img/{name}: {(IMG / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
