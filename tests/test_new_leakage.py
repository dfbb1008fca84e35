"""`workbench new` never drafts a feature that fails the leakage checks, and splits on time
whenever the data has a date or time column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workbench.charter.config import load_charter
from workbench.new import new_pilot


def loans_csv(path: Path, n: int = 1500) -> Path:
    rng = np.random.default_rng(2)
    applied = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    income = rng.lognormal(10.5, 0.4, n).round(2)
    y = (rng.random(n) < 1 / (1 + np.exp(-(np.log(income) - 10.5) * 2))).astype(int)
    frame = pd.DataFrame({
        "applied": applied.date,
        "paid_off_on": (applied + pd.to_timedelta(rng.integers(30, 900, n), unit="D")).date,  # after the row's time
        "income": income,
        "region": rng.choice(["n", "s", "e", "w"], n),
        "status_text": np.where(y == 1, "defaulted", "repaid"),  # the target, as text
        "default": y,
    })
    frame.to_csv(path, index=False)
    return path


def test_new_leaves_out_leaks_and_splits_on_the_date_column(tmp_path: Path) -> None:
    made = new_pilot("loans", loans_csv(tmp_path / "loans.csv"), "default", pilots_dir=tmp_path / "pilots")
    text = made.charter.read_text()
    charter = load_charter(made.charter)
    assert set(charter.features.exclude) == {"status_text", "paid_off_on"}
    assert "leak (target_copy)" in text and "leak (future_dated)" in text  # each exclusion says why
    assert any("status_text" in n for n in made.notes)
    # a DATE column: a temporal split on it (the one with most distinct values), said in a comment
    assert charter.split.kind == "temporal" and charter.split.column == "applied"
    assert "# time column: applied is a DATE column" in text and "paid_off_on" in text
    assert charter.split.train[0] < charter.split.evaluate[0]
    assert "income" not in charter.features.exclude and "region" not in charter.features.exclude


def test_a_column_that_subdivides_the_classes_is_left_out_but_not_split_by(tmp_path: Path) -> None:
    """openintro's loans, target grade: sub_grade (A1..A5 of A) and interest_rate each give the
    grade away and are left out. Neither is an entity: a split by sub_grade held out no E, F or G
    loan at all (NO-GO on too few rows of them), so the split drafted stays random, and says why."""
    rng = np.random.default_rng(5)
    grades = rng.choice(list("ABCDE"), 2000, p=[0.3, 0.3, 0.2, 0.12, 0.08])
    sub = [f"{g}{k}" for g, k in zip(grades, rng.integers(1, 6, 2000), strict=True)]
    pd.DataFrame({"income": rng.lognormal(10.5, 0.4, 2000).round(2), "term": rng.choice([36, 60], 2000),
                  "sub_grade": sub, "interest_rate": [5.31 + 3.1 * "ABCDE".index(s[0]) + 0.6 * int(s[1]) for s in sub],
                  "grade": grades}).to_csv(tmp_path / "loans.csv", index=False)
    made = new_pilot("grades", tmp_path / "loans.csv", "grade", pilots_dir=tmp_path / "pilots")
    charter = load_charter(made.charter)
    assert {"sub_grade", "interest_rate"} <= set(charter.features.exclude)
    assert charter.split.kind == "random", charter.split
    assert any(n.startswith("not split by sub_grade: a class spans 5 of its values") for n in made.notes), made.notes
    # which columns are known before the prediction is a person's judgement: drafted, never decided by new
    from workbench.charter.drafted import drafted_values

    assert "features" in {v.key for v in drafted_values(charter)}


def test_a_number_the_classes_were_cut_from_is_left_out_but_not_split_by(tmp_path: Path) -> None:
    """openintro's births14, target premie: a birth before week 37 is premature, so `weeks` gives
    the answer away and is left out. `new` then took it for an entity (42 births a week) and split
    by it: about 6 weeks held out of the 30 groups the gate counts, a pilot that could never reach
    GO. Each class lies in a range of weeks of its own: the target was cut from it, and the split
    stays random."""
    from demos.text import frame

    frame("openintro", "births14").drop(columns=["rownames"]).to_csv(tmp_path / "births.csv", index=False)
    made = new_pilot("births", tmp_path / "births.csv", "premie", pilots_dir=tmp_path / "pilots")
    charter = load_charter(made.charter)
    assert "weeks" in charter.features.exclude and charter.split.kind == "random", charter.split
    assert [n for n in made.notes if n.startswith("not split by weeks: each class lies in a range of its values")]
    # an entity's numbers mix the classes over their range: a patient's visits are still split by patient
    rng = np.random.default_rng(3)
    patient = rng.integers(0, 300, 3000)
    sick = rng.random(300) < 0.3
    pd.DataFrame({"patient": patient, "age": rng.integers(20, 90, 300)[patient], "dose": rng.random(3000).round(3),
                  "sick": sick[patient].astype(int)}).to_csv(tmp_path / "visits.csv", index=False)
    made = new_pilot("visits", tmp_path / "visits.csv", "sick", pilots_dir=tmp_path / "pilots")
    assert load_charter(made.charter).split.kind == "group", made.notes
    # MASS's Sitka: 79 trees numbered in blocks by treatment (ozone 1-54, control 55-79), each measured at
    # 5 times. Their numbers hold the classes apart as weeks do, yet each tree is seen once a time: an
    # entity, split by, where a random split had put every tree's other measurements in training
    frame("MASS", "Sitka").drop(columns=["rownames"]).to_csv(tmp_path / "sitka.csv", index=False)
    made = new_pilot("sitka", tmp_path / "sitka.csv", "treat", pilots_dir=tmp_path / "pilots")
    split = load_charter(made.charter).split
    assert (split.kind, split.column) == ("group", "tree"), made.notes
    # modeldata's mlc_churn, target voice_mail_plan: the number of voicemail messages is 0 without the plan
    # (73 % of the rows), 1 to 51 with it, and some with the plan have none. Left out as a leak, it was then
    # split by as an entity: a count's zero is no entity, and the split stays random
    plan = rng.random(3000) < 0.27
    messages = np.where(plan & (rng.random(3000) < 0.97), rng.poisson(28, 3000) + 1, 0)
    pd.DataFrame({"number_vmail_messages": messages, "minutes": rng.normal(180, 50, 3000).round(1),
                  "voice_mail_plan": np.where(plan, "yes", "no")}).to_csv(tmp_path / "churn.csv", index=False)
    made = new_pilot("churn", tmp_path / "churn.csv", "voice_mail_plan", pilots_dir=tmp_path / "pilots")
    charter = load_charter(made.charter)
    assert "number_vmail_messages" in charter.features.exclude and charter.split.kind == "random", made.notes
    assert [n for n in made.notes if n.startswith("not split by number_vmail_messages: one of its values holds 7")]


def test_a_sum_is_filed_under_a_part_it_needs_not_under_its_first_guess(tmp_path: Path) -> None:
    """HLMdiag's wages: `ue1` is `ue.7` less `ue.centert1`. The search for a sum took `ue.mean`
    first, the best single guess, and the others after it; its weight in the total fell to 5e-05,
    yet `new` left out ue.mean and kept both parts, the target still their difference. A term the
    total does not need is dropped from the finding, which is filed under a part it needs."""
    from demos.text import frame

    frame("HLMdiag", "wages").to_csv(tmp_path / "wages.csv", index=False)
    made = new_pilot("wages", tmp_path / "wages.csv", "ue1", pilots_dir=tmp_path / "pilots")
    excluded = set(load_charter(made.charter).features.exclude)
    assert "ue.mean" not in excluded and excluded & {"ue.7", "ue.centert1"}, excluded
    (note,) = [n for n in made.notes if "(derived_sum)" in n]
    assert "ue.mean" not in note and "computed from ue.centert1, ue.7" in note, note


def test_an_identifier_that_repeats_is_asked_about_with_the_group_split_written_out(tmp_path: Path) -> None:
    """Ecdat's Train: 235 respondents (`id`), about 12 stated choices each. `id` stayed a feature
    under a random split, each respondent's choices on both sides, and nothing was said: a model
    may learn the person, not the choice. Whether each value is a person seen again or a category
    the work meets again only the analyst knows: the split's kind is drafted, with the group split
    by `id` written out; a `store_id` of 10 stores is a category, and nothing is asked. Where
    outcomes follow the person or thing (a model scores better on ones it has seen: a patient's
    levels, a tree's size), the group split is what is drafted, with the random one written out."""
    from demos.text import frame
    from workbench.charter.drafted import drafted_values

    frame("Ecdat", "Train").drop(columns=["rownames"]).to_csv(tmp_path / "train.csv", index=False)
    made = new_pilot("train", tmp_path / "train.csv", "choice", pilots_dir=tmp_path / "pilots")
    charter = load_charter(made.charter)
    assert charter.split.kind == "random" and "id" not in charter.features.exclude
    (note,) = [n for n in made.notes if n.startswith("id is named as an identifier and repeats")]
    assert "(12.5 rows a value, 235 values)" in note and "`split: {kind: group, column: id}`" in note
    (kind,) = [d for d in drafted_values(charter) if d.key == "split.kind"]
    assert kind.why == 'id may name one person or thing seen again; if so, judge on unseen ones: {kind: group, ' \
                       'column: "id"}'
    rng = np.random.default_rng(0)
    pd.DataFrame({"store_id": rng.integers(1, 11, 800), "price": rng.random(800).round(2),
                  "sold": rng.integers(0, 2, 800)}).to_csv(tmp_path / "stores.csv", index=False)
    made = new_pilot("stores", tmp_path / "stores.csv", "sold", pilots_dir=tmp_path / "pilots")
    assert not [n for n in made.notes if "named as an identifier and repeats" in n]
    assert not [d for d in drafted_values(load_charter(made.charter)) if d.key == "split.kind"]
    # nlme's Quinidine: 136 patients, 11 samples each, in `Subject`, no id in its name: asked about too
    frame("nlme", "Quinidine").drop(columns=["rownames"]).to_csv(tmp_path / "quinidine.csv", index=False)
    made = new_pilot("quinidine", tmp_path / "quinidine.csv", "glyco", pilots_dir=tmp_path / "pilots")
    (note,) = [n for n in made.notes if n.startswith("split by Subject: it is named as a person or thing and repeats "
                                                     "(10.8 rows a value, 136 values), and outcomes follow it: R² ")]
    assert "on Subject values it has not (all its skill over 0.000 lost" in note, note
    charter = load_charter(made.charter)
    assert (charter.split.kind, charter.split.column) == ("group", "Subject")
    (kind,) = [d for d in drafted_values(charter) if d.key == "split.kind"]
    assert kind.why.startswith("outcomes follow Subject; if production meets the same values again"), kind.why
    # MASS's Sitka89: 79 trees, each measured once on each of 8 days, `tree` a number named for nothing: the
    # trees are seen again, and the rows say so (tree and Time key them)
    frame("MASS", "Sitka89").drop(columns=["rownames"]).to_csv(tmp_path / "sitka89.csv", index=False)
    made = new_pilot("sitka89", tmp_path / "sitka89.csv", "size", pilots_dir=tmp_path / "pilots")
    assert [n for n in made.notes if n.startswith("split by tree: it is seen once on each Time (8.0 rows a value, "
                                                  "79 values), and outcomes follow it")], made.notes
    charter = load_charter(made.charter)
    assert (charter.split.kind, charter.split.column) == ("group", "tree")
    assert [d for d in drafted_values(charter) if d.key == "split.kind"]
    # openintro's resume: about 4 résumés to each job ad, and ads differ in whether they call back: a random split
    # went to GO at ROC AUC 0.749, the same model scores 0.546 split by the ad. The group split is drafted
    frame("openintro", "resume").to_csv(tmp_path / "resume.csv", index=False)
    made = new_pilot("resume", tmp_path / "resume.csv", "received_callback", pilots_dir=tmp_path / "pilots")
    charter = load_charter(made.charter)
    assert (charter.split.kind, charter.split.column) == ("group", "job_ad_id"), made.notes
    assert [n for n in made.notes if n.startswith("split by job_ad_id: it is named as an identifier and repeats "
                                                  "(3.7 rows a value, 1,323 values), and outcomes follow it: ROC AUC")]


def test_a_code_that_subdivides_a_number_target_is_left_out_but_not_split_by(tmp_path: Path) -> None:
    """openintro's loans, target interest_rate, which is set from the sub-grade (A1..G5): `new`
    left sub_grade out (alone it explains R² 0.986) and took it for an entity, drafting a split
    by it that held out 8 sub-grades, short of the sample-size gate's 30 groups: no GO was
    possible. A tenth of the rate's range spans 3 sub-grades, and no other column names them (a
    loan's grade, A for A1..A5, does not): a code assigned from the answer, so the split stays
    random (here 4 a tenth). A panel's stores, whose floor area names them, are still split by
    (test_leakage_pilot)."""
    rng = np.random.default_rng(6)
    n = 3000
    grades = rng.choice(list("ABCDEFG"), n, p=[0.2, 0.25, 0.2, 0.15, 0.1, 0.06, 0.04])
    sub = [f"{g}{k}" for g, k in zip(grades, rng.integers(1, 6, n), strict=True)]
    rate = [5.3 + 3.1 * "ABCDEFG".index(s[0]) + 0.6 * int(s[1]) + rng.normal(0, 0.15) for s in sub]
    pd.DataFrame({"annual_income": rng.lognormal(10.8, 0.5, n).round(0), "term": rng.choice([36, 60], n),
                  "sub_grade": sub, "grade": grades, "interest_rate": np.round(rate, 2)}).to_csv(tmp_path / "l.csv",
                                                                                             index=False)
    made = new_pilot("rates", tmp_path / "l.csv", "interest_rate", pilots_dir=tmp_path / "pilots")
    charter = load_charter(made.charter)
    assert "sub_grade" in charter.features.exclude and charter.split.kind == "random", charter.split
    (note,) = [n for n in made.notes if n.startswith("not split by sub_grade")]
    assert "a tenth of the target's range spans 4 of its values" in note and "no other column names them" in note


def test_features_named_as_written_after_the_outcome_are_asked_about(tmp_path: Path) -> None:
    """Churn with `refund_requested`, set for half the customers who left and 2 % of the others:
    alone it ranks them at ROC AUC 0.75, under every leak check, and a pilot confirmed as drafted
    went to GO on it. Its name says it is written once the customer has left: `new` names it,
    and the drafted `features:` asks about it by name. Names like `total_charges` or
    `prepaid_plan`, or one that says it counts what came before (a hotel guest's
    `previous_cancellations`, which named it before), are history, not outcome: not asked about."""
    from workbench.charter.drafted import drafted_values

    rng = np.random.default_rng(11)
    n = 2000
    tenure, charges = rng.integers(1, 72, n), rng.uniform(20, 110, n).round(2)
    churn = rng.random(n) < 1 / (1 + np.exp(1.0 + 0.03 * tenure - 0.01 * charges))
    pd.DataFrame({"tenure": tenure, "total_charges": (charges * tenure).round(2), "prepaid_plan": rng.random(n) < 0.3,
                  "refundRequested": np.where(churn, rng.random(n) < 0.5, rng.random(n) < 0.02),
                  "previous_cancellations": rng.poisson(0.2, n), "PriorDefaults": rng.poisson(0.1, n),
                  "churned": churn}).to_csv(tmp_path / "churn.csv", index=False)
    made = new_pilot("churn", tmp_path / "churn.csv", "churned", pilots_dir=tmp_path / "pilots")
    (note,) = [n for n in made.notes if "named as written once an outcome is known" in n]
    assert note.startswith("refundRequested: named as written")
    (features,) = [d for d in drafted_values(load_charter(made.charter)) if d.key == "features"]
    assert features.why.endswith("named so: refundRequested)")
    assert "refundRequested" not in load_charter(made.charter).features.exclude  # asked, not decided


def _retests(path: Path, n_patients: int = 1200, seed: int = 7) -> Path:
    """Tests of patients (medicaldata's covid_testing): most tested once, a third of the rows
    from patients tested again, whose result mostly repeats; ``patient_id`` numbers them, and
    ``store_id`` (25 sites) is a closed set of codes, a feature like any other."""
    rng = np.random.default_rng(seed)
    times = np.where(rng.random(n_patients) < 0.18, rng.integers(2, 4, n_patients), 1)
    patient = np.repeat(rng.permutation(np.arange(10_000, 10_000 + n_patients)), times)
    infected = np.repeat(rng.random(n_patients) < 0.3, times)
    age = np.repeat(rng.integers(1, 90, n_patients), times)
    pd.DataFrame({"patient_id": patient, "age": age, "store_id": rng.integers(1, 26, len(patient)),
                  "result": np.where(infected ^ (rng.random(len(patient)) < 0.05), "positive", "negative")}
                 ).to_csv(path, index=False)
    return path


def test_an_identifier_is_left_out_and_its_repeated_records_are_split_together(tmp_path: Path) -> None:
    """medicaldata's covid_testing drafted `subject_id` (12,344 values over 15,524 tests) as a
    feature on a random split: GO on accuracy 95.3 % against 92.5 %, a patient's retest scored
    from the first. Named as an identifier with mostly distinct values, it is now left out and
    the split keeps each patient's tests on one side; a site code named *_id stays a feature."""
    made = new_pilot("tests", _retests(tmp_path / "tests.csv"), "result", pilots_dir=tmp_path / "pilots")
    charter = load_charter(made.charter)
    assert set(charter.features.exclude) == {"patient_id"}, charter.features.exclude
    assert "an identifier by its name" in made.charter.read_text()
    assert charter.split.kind == "group" and charter.split.column == "patient_id", charter.split
    assert any(n.startswith("split by patient_id") and "identifier whose values repeat" in n for n in made.notes)


def test_an_identifier_whose_values_rarely_repeat_is_left_out_but_not_split_by(tmp_path: Path) -> None:
    frame = pd.read_csv(_retests(tmp_path / "t.csv"))
    frame = frame.drop_duplicates("patient_id")  # each patient once, but for the few made again below
    frame = pd.concat([frame, frame.head(40)]).rename(columns={"patient_id": "PatientID"})
    frame.to_csv(tmp_path / "once.csv", index=False)
    made = new_pilot("once", tmp_path / "once.csv", "result", pilots_dir=tmp_path / "pilots")
    charter = load_charter(made.charter)
    assert set(charter.features.exclude) == {"PatientID"} and charter.split.kind == "random", charter.split


def test_a_status_written_when_the_customer_left_is_left_out_though_a_few_rows_disagree(tmp_path: Path) -> None:
    """The account's status, set to 'closed' when the customer left and wrong on 3 % of rows:
    no copy of the target, yet alone it ranks churn with ROC AUC ~0.97. new leaves it out and
    says so; the honest columns stay."""
    rng = np.random.default_rng(7)
    n = 3000
    tenure = rng.integers(0, 120, n)
    churned = (rng.random(n) < 1 / (1 + np.exp(-(1.2 - 0.03 * tenure)))).astype(int)
    said = np.where(rng.random(n) < 0.03, 1 - churned, churned)
    pd.DataFrame({"tenure": tenure, "plan": rng.choice(["basic", "plus", "pro"], n),
                  "account_status": np.where(said == 1, "closed", "open"), "churned": churned}
                 ).to_csv(tmp_path / "churn.csv", index=False)
    made = new_pilot("churn", tmp_path / "churn.csv", "churned", pilots_dir=tmp_path / "pilots")
    assert set(load_charter(made.charter).features.exclude) == {"account_status"}
    assert "leak (single_feature)" in made.charter.read_text()
    (note,) = [n for n in made.notes if "account_status" in n]
    assert "ROC AUC 0.9" in note and 'acknowledge it: `leakage: {acknowledged: {account_status: "why"}}`' in note, note


def test_snapshots_of_each_customer_are_split_by_the_number_that_names_the_customer(tmp_path: Path) -> None:
    """Three monthly snapshots of each customer, no customer column: the exact income names the
    customer. A random split put each customer on both sides (GO at ROC AUC 0.98 where the signal
    gives 0.56); new drafts a group split by income and keeps it as a feature, since a group split
    holds each customer on one side."""
    from measure.test_leakage import snapshots

    snapshots(np.random.default_rng(5)).to_csv(tmp_path / "snapshots.csv", index=False)
    made = new_pilot("snaps", tmp_path / "snapshots.csv", "default", pilots_dir=tmp_path / "pilots")
    charter = load_charter(made.charter)
    assert (charter.split.kind, charter.split.column) == ("group", "income"), charter.split
    assert "income" not in charter.features.exclude
    assert any(n.startswith("split by income: 3.0 rows a value, one record seen again") for n in made.notes), made.notes
    assert any(n.startswith("kept income as feature(s)") for n in made.notes), made.notes


def test_a_feature_just_under_the_leak_bar_is_left_out_with_how_to_keep_it(tmp_path: Path) -> None:
    """sklearn's breast cancer table: `new` measured mean perimeter at ROC AUC 0.947 on its sample of
    the whole table and kept it; the run measured it again on its training rows alone, over 0.95,
    and an untouched pilot ended NO-GO on a leak `new` never named. A feature within NEAR_AUC under
    the bar is now left out as the ones over it are, with how to keep it; a weaker one stays."""
    from workbench.measure.leakage import MAX_AUC, NEAR_AUC

    rng = np.random.default_rng(3)
    n = 1500
    y = (rng.random(n) < 0.4).astype(int)
    pd.DataFrame({"radius": (y * 2.4 + rng.normal(0, 1, n)).round(3),  # ROC AUC just under 0.95
                  "texture": (y * 1.4 + rng.normal(0, 1, n)).round(3),  # about 0.84
                  "malignant": y}).to_csv(tmp_path / "cells.csv", index=False)
    made = new_pilot("cells", tmp_path / "cells.csv", "malignant", pilots_dir=tmp_path / "pilots")
    charter = load_charter(made.charter)
    (note,) = [n for n in made.notes if n.startswith("left out radius: near a leak (single_feature)")]
    auc = float(note.split("ROC AUC ")[1].split()[0])
    assert MAX_AUC - NEAR_AUC <= auc < MAX_AUC, note
    assert "the run measures it again on its training rows alone" in note
    assert "acknowledge it: `leakage: {acknowledged: {radius: \"why\"}}`" in note
    assert "radius" in charter.features.exclude and "texture" not in charter.features.exclude


def test_on_a_small_table_a_feature_within_the_noise_of_the_bar_is_left_out_and_on_a_large_one_kept(
        tmp_path: Path) -> None:
    """AER's TravelMode, 840 rows: `new` measured the waiting time at ROC AUC 0.926 and kept it; the
    run measured it again on its training rows at 0.957, and the untouched pilot ended NO-GO on a
    leak `new` never named. Over five training splits the run's measure ranged from 0.887 to 0.962:
    the split decided the bar. On a small table `new` leaves out a feature within twice the noise
    of the run's measure under the bar; on a large one the same signal stays."""
    from workbench.measure.leakage import MAX_AUC, NEAR_AUC, near_auc

    assert near_auc(1_000_000, 0.3) == (NEAR_AUC, "")
    assert near_auc(840, 0.25)[0] > 3 * NEAR_AUC
    for rows, left_out in ((800, True), (20_000, False)):
        rng = np.random.default_rng(4)
        y = (rng.random(rows) < 0.3).astype(int)
        pd.DataFrame({"wait": (y * 2.1 + rng.normal(0, 1, rows)).round(3),  # ROC AUC about 0.93
                      "cost": (y * 0.6 + rng.normal(0, 1, rows)).round(3), "chosen": y}
                     ).to_csv(tmp_path / f"modes{rows}.csv", index=False)
        made = new_pilot(f"modes{rows}", tmp_path / f"modes{rows}.csv", "chosen", pilots_dir=tmp_path / "pilots")
        excluded = load_charter(made.charter).features.exclude
        assert ("wait" in excluded) is left_out and "cost" not in excluded, made.notes
        if left_out:
            (note,) = [n for n in made.notes if n.startswith("left out wait: near a leak (single_feature)")]
            auc = float(note.split("ROC AUC ")[1].split()[0])
            assert auc < MAX_AUC - NEAR_AUC and "(twice the noise of a run's measure on about 300 rows" in note, note
