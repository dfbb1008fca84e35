"""An eval set read from the warehouse: its items, the training items, the corpus, and the
overlap between eval and training items (a leak of the text kind); queries copied from the
passages they should find (:func:`source_findings`).

Overlap. An eval item whose input text also occurs among the training items measures
memory, not skill. Two checks: exact (the same text) and normalized (the same text once
lower-cased, accents, punctuation and runs of whitespace removed). Each is a finding in
the leakage findings' shape (``feature: eval_set.overlap``), so the implicit leakage gate
blocks a GO until the duplicates are removed from the training items or the charter
acknowledges ``eval_set.overlap`` with a reason.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...charter.items import EvalSet
from ...data.sql import quote_ident as _q
from ...errors import ConfigError

__all__ = ["ItemData", "load_items", "normalize_text", "input_groups", "join_text", "overlap_findings",
           "prompt_findings", "quoted_whole", "quoting_items", "label_findings", "source_findings",
           "LABEL_FEATURE", "OVERLAP_FEATURE", "PROMPT_FEATURE", "SOURCE_FEATURE"]

OVERLAP_FEATURE = "eval_set.overlap"
PROMPT_FEATURE = "eval_set.prompt.{candidate}"  # eval items written into a candidate's prompt template
LABEL_FEATURE = "eval_set.label_in_text"  # text classification: eval items whose text names their class
# the text reads the class off when, on this share of the eval items or more, exactly one class's name
# occurs in it, and it is the item's own on this share of those
LABEL_COVERAGE, LABEL_ACCURACY = 0.5, 0.95
# ... or a word names the class as a code: it is in this share of the class's items or more (and
# LABEL_ACCURACY of its items are that class's), for classes holding LABEL_COVERAGE of the items
CODE_COVERAGE = 0.9
_MIN_PROMPT_CHARS = 20  # shorter texts (a word, a label) occur in prompts by chance
# an eval text of this many words or more whose every run of this many words occurs among the
# training items is quoted there (shorter runs recur by chance: "thanks for your help")
QUOTE_WORDS = 8
_MIN_LABEL_ITEMS = 20  # fewer items naming a class say nothing either way
SOURCE_FEATURE = "eval_set.query_in_source"  # retrieval and answers: queries copied from the passage to find
# ... on this share of the eval items or more. A user who pastes an error message into search
# finds the article quoting it: a few such queries are real traffic; a fifth of the set copied
# from its answers is an eval set written from the corpus (a sentence picked as "the question")
SOURCE_SHARE = 0.2


@dataclass(frozen=True)
class ItemData:
    """The eval items (one row each, in id order) and what the candidates learn from."""

    spec: EvalSet
    items: pd.DataFrame  # id, inputs, expected, slices, recorded
    train: pd.DataFrame | None  # inputs, expected (None: no training items declared)
    corpus: pd.DataFrame | None  # retrieval: id, text
    fingerprint: str = ""  # the eval table's fingerprint at load (part of every result)
    schema: dict | None = None  # extraction: the JSON schema every answer must satisfy
    # the eval source's columns its contract marks `pii: true`, row by row with `items` (LLM
    # candidates withhold them, and the names in them, before a call); None: none marked
    personal: pd.DataFrame | None = None
    root: Path | None = None  # the charter's folder (an answer pilot's judge reads its prompt there)

    @property
    def ids(self) -> list[str]:
        return [str(v) for v in self.items[self.spec.id]]

    def texts(self, frame: pd.DataFrame | None = None) -> list[str]:
        """Each row's input columns joined by a newline (nulls as empty)."""
        return join_text(self.items if frame is None else frame, self.spec.inputs)

    @property
    def expected(self) -> list[str]:
        return [str(v) for v in self.items[self.spec.expected]]

    def labels(self) -> list[str]:
        """Every class an answer may take: the expected values, then the training labels."""
        seen = [*self.expected, *([] if self.train is None else [str(v) for v in self.train[self.spec.expected]])]
        return sorted(set(seen))

    def expected_objects(self) -> list[dict]:
        """Extraction: each item's expected answer, a JSON object."""
        out = []
        for item_id, text in zip(self.ids, self.items[self.spec.expected], strict=True):
            try:
                value = json.loads(str(text))
            except ValueError as exc:
                raise ConfigError(f"eval item {item_id}: its expected answer is not JSON ({exc})",
                                  where=f"pilot.yaml: eval_set.expected ({self.spec.expected})",
                                  hint="an extraction eval set holds each answer as a JSON object, e.g. "
                                  '{"amount": "12.50", "currency": "EUR"}') from None
            if not isinstance(value, dict):
                raise ConfigError(f"eval item {item_id}: its expected answer is a {type(value).__name__}, not an object",
                                  where=f"pilot.yaml: eval_set.expected ({self.spec.expected})",
                                  hint="write each answer as a JSON object of fields")
            out.append(value)
        return out

    def relevant(self) -> list[set[str]]:
        """Retrieval: each query's relevant ids (the expected column split on the separator)."""
        sep = self.spec.separator
        return [{p.strip() for p in str(v).split(sep) if p.strip()} for v in self.items[self.spec.expected]]

    def _split(self, column: str | None) -> list[list[str]] | None:
        if column is None:
            return None
        sep = self.spec.separator
        return [[] if pd.isna(v) else [p.strip() for p in str(v).split(sep) if p.strip()] for v in self.items[column]]

    def facts(self) -> list[list[str]] | None:
        """Answer pilots: each item's expected facts (``eval_set.facts`` split on the separator);
        None when the eval set declares no facts column."""
        return self._split(self.spec.facts)

    def sources(self) -> list[set[str]] | None:
        """Answer pilots: each item's supporting passage ids (``eval_set.sources``); None: not declared."""
        split = self._split(self.spec.sources)
        return None if split is None else [set(s) for s in split]

    def params(self) -> dict[str, Any]:
        out = {"eval_set.source": self.spec.source, "eval_set.items": len(self.items),
               "eval_set.fingerprint": self.fingerprint}
        if self.train is not None:
            out.update({"eval_set.train": self.spec.train, "eval_set.train_items": len(self.train)})
        if self.corpus is not None:
            out["eval_set.corpus_documents"] = len(self.corpus)
        return out

    def input_groups(self) -> np.ndarray:
        """Per eval item, the number of its input (:func:`input_groups`): an interval counts an
        input once (an input asked again is answered alike, and its repeats are not new evidence)."""
        return input_groups(self.texts())

    def distinct_inputs(self) -> int:
        return int(self.input_groups().max(initial=-1)) + 1

    def summary(self) -> str:
        distinct = self.distinct_inputs()
        repeats = (f" ({distinct:,} distinct inputs: an input asked again counts once in every interval)"
                   if distinct < len(self.items) else "")
        parts = [f"{len(self.items):,} eval items from '{self.spec.source}'{repeats}"]
        if self.train is not None:
            parts.append(f"{len(self.train):,} training items from '{self.spec.train}'")
        if self.corpus is not None:
            parts.append(f"a corpus of {len(self.corpus):,} documents")
        return ", ".join(parts) + "."


def input_groups(texts: list[str]) -> np.ndarray:
    """Per text (an item's inputs, :func:`join_text`), the number of its form once normalized
    (:func:`normalize_text`), 0..G-1: texts that differ only in how they were typed share one."""
    _, codes = np.unique(np.asarray([normalize_text(t) for t in texts], dtype=object), return_inverse=True)
    return codes.astype(np.int64)


def join_text(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    parts = [frame[c].astype("string").fillna("") for c in columns]
    joined = parts[0]
    for p in parts[1:]:
        joined = joined + "\n" + p
    return [str(t) for t in joined]


def _read(con: Any, table: str, columns: list[str], order: str | None = None) -> pd.DataFrame:
    cols = ", ".join(_q(c) for c in columns)
    sql = f"SELECT {cols} FROM {_q(table)}" + (f" ORDER BY {_q(order)}" if order else "")
    try:
        return con.sql(sql).to_arrow_table().to_pandas()
    except Exception as exc:  # noqa: BLE001 - a DuckDB catalog error: the table or a column is missing
        raise ConfigError(f"cannot read the eval set's table '{table}': {str(exc).splitlines()[0]}",
                          where=f"pilot.yaml: eval_set ({table})",
                          hint="check the source is ingested with the columns `eval_set:` names") from exc


def load_items(con: Any, spec: EvalSet, *, root: Path | str = ".") -> ItemData:
    """Read the eval items, the training items and the corpus from the warehouse (and the
    extraction schema, relative to ``root``: the charter's folder)."""
    items = _read(con, spec.source, spec.columns(), spec.id)
    ids = items[spec.id].astype("string")
    dupes = ids[ids.duplicated()].unique().tolist()
    if dupes:
        raise ConfigError(f"the eval set '{spec.source}' repeats id(s) {', '.join(map(str, dupes[:5]))}",
                          where=f"pilot.yaml: eval_set.id ({spec.id})",
                          hint="each eval item needs its own id: fix the data (its contract should hold `unique`)")
    for col in (spec.id, spec.expected):
        blank = int(items[col].isna().sum())
        if blank:
            raise ConfigError(f"{blank} eval item(s) have no {col!r}", where=f"pilot.yaml: eval_set ({col})",
                              hint="every eval item needs an id and an expected answer: fix or drop those rows")
    items[spec.id] = ids
    items[spec.expected] = items[spec.expected].astype("string")
    train = None
    if spec.train is not None:
        train = _read(con, spec.train, [*spec.inputs, spec.expected])
        train = train[train[spec.expected].notna()].reset_index(drop=True)
        train[spec.expected] = train[spec.expected].astype("string")
    corpus = None
    if spec.corpus is not None:
        c = spec.corpus
        raw = _read(con, c.source, [c.id, *c.text], c.id)
        corpus = pd.DataFrame({"id": raw[c.id].astype("string"), "text": join_text(raw, c.text)})
    from ...data.warehouse import fingerprint

    schema = None
    if spec.output_schema is not None:
        path = Path(root) / spec.output_schema
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the output schema: {exc}", where=str(path),
                              hint="write a JSON schema (an object with `properties`) at that path") from exc
    return ItemData(spec=spec, items=items.reset_index(drop=True), train=train, corpus=corpus,
                    fingerprint=fingerprint(con, spec.source).digest, schema=schema,
                    personal=_personal(con, spec), root=Path(root))


def _personal(con: Any, spec: EvalSet) -> pd.DataFrame | None:
    """The eval source's personal-data columns (recorded at ingest from its contract), in id order."""
    from ...data.warehouse import pii_columns

    marked = sorted(next(iter(pii_columns(con, spec.source).values()), frozenset()))
    if not marked:
        return None
    return _read(con, spec.source, marked, spec.id).reset_index(drop=True)


_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)


def normalize_text(text: str) -> str:
    """Lower case, accents, punctuation and repeated whitespace removed: the form two
    texts share when they differ only in how they were typed."""
    folded = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    return " ".join(_PUNCT.sub(" ", folded.lower()).split())


def overlap_findings(data: ItemData, *, examples: int = 5) -> list[dict[str, Any]]:
    """Eval items whose text also occurs among the training items: one finding per check
    (exact, normalized, quoted) that found any, in the leakage findings' shape. *Quoted*: the
    whole normalized text, :data:`QUOTE_WORDS` words or more, inside a longer training item
    (a reply that quotes the ticket, a thread exported message by message): every run of
    :data:`QUOTE_WORDS` words of it occurs in the training items. A model learns the eval
    item's own words with its answer (macro-F1 0.56 where the tickets without their replies
    give 0.28)."""
    if data.train is None:
        return []
    eval_texts = data.texts()
    train_texts = data.texts(data.train)
    exact_set = set(train_texts)
    train_norm = [normalize_text(t) for t in train_texts]
    norm_set = set(train_norm)
    eval_norm = [normalize_text(t) for t in eval_texts]
    exact = [i for i, t in zip(data.ids, eval_texts, strict=True) if t in exact_set]
    near = [i for i, t, n in zip(data.ids, eval_texts, eval_norm, strict=True) if t not in exact_set and n in norm_set]
    quoted = [data.ids[k] for k in quoted_whole(eval_norm, train_norm)]
    out = []
    for check, ids, how in (("exact duplicate", exact, "also occur among"), ("normalized duplicate", near,
                                                                          "also occur among"),
                            ("quoted", quoted, "are quoted whole inside longer items among")):
        if ids:
            out.append({"feature": OVERLAP_FEATURE, "check": check, "items": len(ids), "ids": ids[:50],
                        "evidence": f"{len(ids)} of {len(eval_texts):,} eval items ({len(ids) / len(eval_texts):.1%}) "
                                    f"{how} the {len(train_texts):,} training items ({check}), e.g. id(s) "
                                    f"{', '.join(ids[:examples])}: remove them from the training items"
                                    + (" (a reply that quotes a ticket belongs with it)" if check == "quoted" else "")})
    return out


def source_findings(data: ItemData, task_kind: str, *, examples: int = 5) -> list[dict[str, Any]]:
    """Retrieval and answer pilots: eval queries copied from a passage they should find (their
    relevant ids; an answer pilot's ``sources``): every run of :data:`QUOTE_WORDS` words of the
    normalized query occurs in one of its own passages. A lexical retriever finds such a query
    by its own words, so recall and MRR read high, an absolute gate most of all (today's BM25
    gains as much as a candidate, so a paired verdict suffers less). One finding in the
    leakage findings' shape, keyed :data:`SOURCE_FEATURE`, when :data:`SOURCE_SHARE` of the
    items or more are copied; fewer are the pasted error messages real searches hold too."""
    if data.corpus is None or not data.ids:
        return []
    wanted = data.relevant() if task_kind == "retrieval" else data.sources() if task_kind == "answer" else None
    if wanted is None:
        return []
    passages = dict(zip(data.corpus["id"].astype(str), data.corpus["text"], strict=True))
    runs_of: dict[str, set[tuple[str, ...]]] = {}  # a passage's runs, built when a query needs them

    def runs(doc: str) -> set[tuple[str, ...]]:
        if doc not in runs_of:
            runs_of[doc] = set(_word_runs(normalize_text(passages[doc])))
        return runs_of[doc]

    copied = []
    for item_id, text, docs in zip(data.ids, data.texts(), wanted, strict=True):
        query = _word_runs(normalize_text(text))
        if query and any(set(query) <= runs(d) for d in sorted(docs) if d in passages):
            copied.append(item_id)
    n = len(data.ids)
    if len(copied) < SOURCE_SHARE * n:
        return []
    return [{"feature": SOURCE_FEATURE, "check": "copied from its passage", "items": len(copied), "ids": copied[:50],
             "evidence": f"{len(copied):,} of {n:,} eval items ({len(copied) / n:.1%}) are copied from a passage they "
                         f"should find (every run of {QUOTE_WORDS} words of each occurs in it), e.g. id(s) "
                         f"{', '.join(copied[:examples])}: a retriever finds them by their own words, so the scores "
                         "read higher than on the questions users ask. Write the queries as users ask (or take "
                         "them from search logs), or acknowledge it if real queries are pasted passages too "
                         "(error messages)"}]


def quoted_whole(eval_norm: Sequence[str], train_norm: Sequence[str]) -> list[int]:
    """The eval items quoted whole inside longer training items, as indexes into ``eval_norm``
    (normalized texts, as ``train_norm``): an eval item of :data:`QUOTE_WORDS` words or more, not
    itself a training item's text, every run of :data:`QUOTE_WORDS` words of which occurs in the
    training items."""
    own = set(train_norm)
    wanted = {k: _word_runs(n) for k, n in enumerate(eval_norm) if n not in own and len(n.split()) >= QUOTE_WORDS}
    # hashes, not the tuples: a large training set's runs would hold their words many times over
    runs = {hash(r) for t in train_norm for r in _word_runs(t)} if wanted else set()
    return [k for k, rs in wanted.items() if all(hash(r) in runs for r in rs)]


def quoting_items(eval_norm: Sequence[str], train_norm: Sequence[str]) -> list[int]:
    """The training items to leave out so that :func:`quoted_whole` finds no eval item, as indexes
    into ``train_norm``: those that hold a quoted item's whole text (the reply quoting its
    ticket); then, for an item whose words are spread over several, those holding its rarest run
    (not every remark that shares a set phrase with it)."""
    padded = [f" {t} " for t in train_norm]
    out = {j for k in quoted_whole(eval_norm, train_norm) for j, t in enumerate(padded) if f" {eval_norm[k]} " in t}
    left = [j for j in range(len(train_norm)) if j not in out]
    for k in quoted_whole(eval_norm, [train_norm[j] for j in left]):
        holders = {r: [j for j in left if f" {' '.join(r)} " in padded[j]] for r in _word_runs(eval_norm[k])}
        out.update(min(holders.values(), key=len))
    return sorted(out)


def _word_runs(text: str) -> list[tuple[str, ...]]:
    words = text.split()
    return [tuple(words[k:k + QUOTE_WORDS]) for k in range(len(words) - QUOTE_WORDS + 1)]


def label_findings(data: ItemData, task_kind: str, *, examples: int = 5) -> list[dict[str, Any]]:
    """Text classification: the eval items' texts name their own class (a header or tag line
    written from the label: "Area: network"). Exactly one class's name, as whole words after
    :func:`normalize_text` with underscores read as spaces (``dev_tools`` tagged "Dev-Tools"),
    occurs in :data:`LABEL_COVERAGE` of the texts or more, and it is the item's own class in
    :data:`LABEL_ACCURACY` of those: a model reads the answer off the input, which production
    texts do not carry (macro-F1 0.98 where the texts alone give 0.74). Honest texts name a
    class now and then, and other classes too. One finding in the leakage findings' shape,
    keyed :data:`LABEL_FEATURE`, or none."""
    if task_kind != "text-classification" or not data.ids:
        return []

    def words(text: str) -> str:  # a label's name as a tag writes it: dev_tools, dev-tools, Dev Tools
        return " ".join(normalize_text(text).replace("_", " ").split())

    names = {label: re.compile(rf"(?<!\w){re.escape(words(label))}(?!\w)") for label in data.labels() if words(label)}
    named, own = 0, []
    for item_id, text, label in zip(data.ids, data.texts(), data.expected, strict=True):
        norm = words(text)
        found = [name for name, pattern in names.items() if pattern.search(norm)]
        if len(found) == 1:
            named += 1
            if found[0] == label:
                own.append(item_id)
    n = len(data.ids)
    if named < max(_MIN_LABEL_ITEMS, LABEL_COVERAGE * n) or len(own) < LABEL_ACCURACY * named:
        return _code_findings(data, [words(t) for t in data.texts()], examples=examples)
    return [{"feature": LABEL_FEATURE, "check": "label in text", "items": len(own), "ids": own[:50],
             "evidence": f"{len(own):,} of {n:,} eval items ({len(own) / n:.1%}) name their own class in their text, "
                         f"and {named - len(own):,} another class, e.g. id(s) {', '.join(own[:examples])}: a model "
                         "reads the answer off the input (a header or tag written from the label), which the texts "
                         "it will meet do not carry. Take the class's name out of the texts, or acknowledge it if "
                         "the real inputs carry it too"}]


def _code_findings(data: ItemData, texts: list[str], *, examples: int) -> list[dict[str, Any]]:
    """The label written as a code (a routing tag "[Q7]" for billing): a word that occurs in
    :data:`CODE_COVERAGE` of a class's eval items or more and in :data:`LABEL_ACCURACY` of its
    items that class's, for classes holding :data:`LABEL_COVERAGE` of the items or more. An
    honest word that tells a class (a password for the account desk) is in a share of its
    items, and in others' too; a code is in nearly all of its class's and in none else
    (macro-F1 1.00 where a model of the texts without it reaches 0.55)."""
    from collections import Counter

    n = len(texts)
    words_of = [set(t.split()) for t in texts]
    per_class = Counter(data.expected)
    frequency = Counter(w for ws in words_of for w in ws)
    together = Counter((w, label) for ws, label in zip(words_of, data.expected, strict=True) for w in ws
                       if frequency[w] >= _MIN_LABEL_ITEMS)
    codes: dict[str, tuple[str, int]] = {}  # class -> (its code, items of the class holding it)
    for (word, label), both in together.items():
        if (per_class[label] >= _MIN_LABEL_ITEMS and both >= CODE_COVERAGE * per_class[label]
                and both >= LABEL_ACCURACY * frequency[word] and both > codes.get(label, ("", 0))[1]):
            codes[label] = (word, both)
    own = [i for i, ws, label in zip(data.ids, words_of, data.expected, strict=True)
           if label in codes and codes[label][0] in ws]
    if len(codes) < 2 or len(own) < LABEL_COVERAGE * n:
        return []
    shown = "; ".join(f"'{word}' in {both:,} of the {per_class[label]:,} {label!r} items and "
                      f"{frequency[word] - both:,} other(s)" for label, (word, both) in list(codes.items())[:4])
    return [{"feature": LABEL_FEATURE, "check": "class code in text", "items": len(own), "ids": own[:50],
             "evidence": f"{len(own):,} of {n:,} eval items ({len(own) / n:.1%}) hold a word that names their class "
                         f"as a code ({shown}{'; ...' if len(codes) > 4 else ''}), e.g. id(s) "
                         f"{', '.join(own[:examples])}: a tag or routing code written from the label, which a model "
                         "reads the answer off and the texts it will meet do not carry. Take the code out of the "
                         "texts, or acknowledge it if the real inputs carry it too"}]


def prompt_findings(data: ItemData, candidates: Any, root: Path, *, examples: int = 5) -> list[dict[str, Any]]:
    """Eval items whose text (normalized, at least 20 characters) is written into an LLM
    candidate's prompt template, as a few-shot example, say: the model reads the item, often
    with its answer, before it is asked. One finding per candidate, in the leakage findings'
    shape, keyed ``eval_set.prompt.<candidate>``. A template that cannot be read is the
    candidate's own step to report."""
    texts = [(i, normalize_text(t)) for i, t in zip(data.ids, data.texts(), strict=True)]
    texts = [(i, t) for i, t in texts if len(t) >= _MIN_PROMPT_CHARS]
    out = []
    for cand in candidates:
        if getattr(cand, "kind", None) != "llm" or not getattr(cand, "prompt", None):
            continue
        path = Path(cand.prompt) if Path(cand.prompt).is_absolute() else Path(root) / cand.prompt
        try:
            template = normalize_text(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        ids = [i for i, t in texts if t in template]
        if ids:
            out.append({"feature": PROMPT_FEATURE.format(candidate=cand.name), "check": "in prompt", "items": len(ids),
                        "ids": ids[:50],
                        "evidence": f"{len(ids)} of {len(data.ids):,} eval items ({len(ids) / len(data.ids):.1%}) are "
                                    f"written into the prompt template {cand.prompt} of candidate '{cand.name}', e.g. "
                                    f"id(s) {', '.join(ids[:examples])}: the model reads them before it is asked. "
                                    "Take the prompt's examples from the training items instead"})
    return out
