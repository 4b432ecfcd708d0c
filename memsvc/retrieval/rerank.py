"""Opt-in late-interaction re-ranking of a search's first hits with the bundled MiniLM.

The dense part of the ranking compares one mean-pooled vector per text. Late interaction
(ColBERT's MaxSim) compares tokens: each query token's best cosine among a memory's
token states (the model's last hidden states, [CLS]/[SEP] dropped, L2-normalised),
averaged over the query's tokens, so one matching phrase inside a long or chatty memory
counts fully instead of being diluted by the rest of the text. No other weights are
needed: the token states come from the same model, recomputed at query time for the
``depth`` best hits only (one forward pass over the query and their texts), so the cost
does not grow with the project.

Within those hits, the pooled dense part of each hit's fused score
(``hybrid.W_DENSE * dense_scaled``) is replaced by ``W_MAXSIM * maxsim_scaled``
(MaxSim min-max scaled over the hits, like the dense part over the query's top), inside
the kind/pin/importance/recency adjustment; the hits below ``depth`` keep their order
after them. Off by default (``Settings.rerank_depth = 0``): measured in
``benchmarks/results/recall_ideas.md`` and ``rerank.md`` (a gain on LoCoMo dev and the
fit corpus, none lost on the held-out one; at depth 20 at least ~335 ms more per search
on a 2-core machine, the forward pass over 21 texts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from memsvc.retrieval.hybrid import W_DENSE

__all__ = ["W_MAXSIM", "TokenEmbedder", "maxsim", "reranked_finals"]

W_MAXSIM = W_DENSE
"""MaxSim takes the weight of the dense part it replaces (not fitted)."""

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class TokenEmbedder(Protocol):
    """An embedder that can also give each text's token states."""

    def token_states(self, texts: list[str]) -> list[Vectors]:
        """Per text, its tokens' L2-normalised vectors (one row per token)."""


def maxsim(query: Vectors, doc: Vectors) -> float:
    """Each query token's best cosine among the document's tokens, averaged (0 when either
    has no token)."""
    if query.size == 0 or doc.size == 0:
        return 0.0
    return float((query @ doc.T).max(axis=1).mean())


def reranked_finals(
    finals: Sequence[float],
    fused: Sequence[float],
    dense_scaled: Sequence[float],
    sims: Sequence[float],
) -> list[float]:
    """New final scores of the re-ranked hits: in each fused score, the pooled dense part
    swapped for the scaled MaxSim, under the same adjustment factor (final / fused)."""
    s = np.asarray(sims, dtype=np.float64)
    lo, hi = (float(s.min()), float(s.max())) if s.size else (0.0, 0.0)
    scaled = (s - lo) / (hi - lo) if hi - lo > 1e-12 else np.zeros_like(s)
    out = []
    for final, f, d, m in zip(finals, fused, dense_scaled, scaled, strict=True):
        factor = final / f if f else 1.0
        out.append(factor * (f - W_DENSE * d + W_MAXSIM * float(m)))
    return out
