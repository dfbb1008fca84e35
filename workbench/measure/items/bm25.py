"""BM25 retrieval (``bm25s`` with the PyStemmer English stemmer): the one module that imports them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...errors import WorkbenchError

__all__ = ["Bm25Index"]


class Bm25Index:
    """A BM25 index over ``texts``; :meth:`search` returns positions, best first."""

    def __init__(self, texts: Sequence[str], *, language: str = "english") -> None:
        try:
            import bm25s
            import Stemmer
        except ImportError as exc:
            raise WorkbenchError("the bm25 candidate needs `bm25s` and `PyStemmer`", where="eval_set.candidates",
                                 hint="run `make setup` (it installs the workbench's dependencies)") from exc
        self.language = language
        self._stemmer = Stemmer.Stemmer(language)
        self._retriever: Any = bm25s.BM25()
        tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=self._stemmer, show_progress=False)
        self._retriever.index(tokens, show_progress=False)
        self.size = len(texts)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_stemmer")  # a C object; rebuilt on load
        return state

    def __setstate__(self, state: dict) -> None:
        import Stemmer

        self.__dict__.update(state)
        self._stemmer = Stemmer.Stemmer(self.language)

    def search(self, query: str, k: int) -> list[int]:
        import bm25s

        tokens = bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, show_progress=False)
        if not any(len(t) for t in tokens.ids):
            return []  # nothing left of the query after stop words: no match
        docs, scores = self._retriever.retrieve(tokens, k=min(k, self.size), show_progress=False, n_threads=1)
        return [int(d) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]  # no shared term: no match
