"""Calibrated relevance: how likely a hit is to be relevant to its query, in [0, 1].

The ranking score (``fused`` and ``final``) is made of per-query scaled parts (lexical
divided by the query's best, dense min-max over the query's top), so it orders the hits
of one query well but says nothing across queries: an unrelated query still gets a
top hit scaled to 1. Relevance uses only *absolute* evidence about one memory and one
query, so the same number means the same thing in every query and project:

- ``cosine``: the raw cosine between the query's and the memory's vectors;
- ``coverage``: the share of the query's information found in the memory's words: the
  IDF-weighted fraction of the query's analysed terms (stemmed, stop words removed) that
  occur in the memory, a term seen only in its predecessor in the episode counting at
  the BM25F neighbour weight. A query term the project has never seen carries the
  highest IDF, so a query about something the project does not hold covers little;
- ``coverage_undated``: the same, except that the words of an absolute date the query
  names ("on 3 June, 2023", "in August 2023", ``temporal.date_phrases``) count only in a
  memory that holds them. A memory's time is its ``valid_from``, matched by the ranking's
  time signal, and its text seldom spells the date, so a dated question about a memory
  that answers it no longer looks as if it missed its rarest words;
- ``unknown``: of the query's information outside such dates, the IDF-weighted share in
  terms that no memory of the project holds at all.
- ``unnamed``: of the names the query holds (``analysis.named_terms``: a capitalised word
  that does not open a sentence, an acronym, an identifier; dates left out), the share no
  memory of the project mentions. "What is Nate's favourite book?" asked of a project that
  never names Nate is about someone else, however well its other words match. This and
  ``unknown`` are one number per query and project, the same for each of its hits.

``relevance = sigmoid(BIAS + W_COSINE * cosine + W_COVERAGE * coverage_undated +
W_UNKNOWN * unknown + W_UNNAMED * unnamed)`` (``minilm-fit-notes-v4``) estimates the
probability that the memory is relevant to the query, under an even prior (as many
relevant as irrelevant candidates). The constants were fitted by logistic regression on a
hand-written corpus of project notes (``benchmarks/corpora.py``, the "fit" set, re-derived
by ``python benchmarks/calibrate.py``), never on LoCoMo: the corpus as written and with
each project padded by 100 and 400 unrelated notes, so that the fit sees projects of
realistic size, where the best of many unrelated memories is a near miss (the first fit,
on 11-16-memory projects only, let half of the questions asked of an unrelated
500-memory project through at 0.5). The fit corpus holds questions naming a person,
service, library or file that only their own project mentions, which is what lets the fit
weigh ``unnamed``. The fit corpus names no dates, so the date rule does not move the fit;
it was chosen after reading the own-project questions that v2 (cosine and ``coverage``
alone) dropped on LoCoMo, most of them dated (17 of 27,
``benchmarks/results/recall_ideas.md``), and has no constant of its own. They are checked
on a second, different corpus and on LoCoMo in ``make bench-quality``. They are specific
to the embedder's cosine scale: other embedders get ``LEXICAL_ONLY``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple


class Evidence(NamedTuple):
    """The absolute signals of one hit (see the module docstring)."""

    cosine: float
    coverage: float
    coverage_undated: float
    unknown: float
    unnamed: float = 0.0


__all__ = [
    "DEFAULT_CALIBRATION",
    "LEXICAL_ONLY",
    "NOTES_V2",
    "NOTES_V3",
    "WITH_MAXSIM",
    "WITH_MAXSIM_V1",
    "Calibration",
    "Evidence",
    "calibration_for",
    "coverage",
    "with_maxsim",
]


@dataclass(frozen=True)
class Calibration:
    """A logistic map from a hit's evidence to a probability of relevance."""

    bias: float
    w_cosine: float
    w_coverage: float
    name: str
    w_maxsim: float = 0.0
    """Weight of the late-interaction score (``rerank.maxsim``) where a hit has one."""
    w_unknown: float = 0.0
    """Weight of the query's ``unknown`` share (0: a calibration fitted without it)."""
    w_unnamed: float = 0.0
    """Weight of the query's ``unnamed`` share (0: a calibration fitted without it)."""
    undated: bool = False
    """Whether ``w_coverage`` weighs ``coverage_undated`` (else ``coverage``)."""

    def relevance(
        self,
        cosine: float,
        cover: float,
        sim: float = 0.0,
        unknown: float = 0.0,
        unnamed: float = 0.0,
    ) -> float:
        """The estimated probability that a memory with these signals is relevant; rises
        with cosine and coverage and stays within [0, 1]. ``cover`` is the coverage this
        calibration reads (``of`` picks it); ``sim``: the hit's MaxSim, used only by a
        calibration fitted with it (``w_maxsim``); ``unknown`` and ``unnamed``: the query's
        shares, likewise (``w_unknown``, ``w_unnamed``)."""
        z = (
            self.bias
            + self.w_cosine * cosine
            + self.w_coverage * cover
            + self.w_maxsim * sim
            + self.w_unknown * unknown
            + self.w_unnamed * unnamed
        )
        # math.exp overflows past ~709: clip the logit (the answer is 0 or 1 there anyway)
        z = max(-50.0, min(50.0, z))
        return 1.0 / (1.0 + math.exp(-z))

    def of(self, evidence: Evidence, sim: float = 0.0) -> float:
        """``relevance`` of a hit's evidence, with the coverage this calibration reads."""
        cover = evidence.coverage_undated if self.undated else evidence.coverage
        return self.relevance(evidence.cosine, cover, sim, evidence.unknown, evidence.unnamed)


DEFAULT_CALIBRATION = Calibration(
    bias=-3.881,
    w_cosine=7.695,
    w_coverage=5.588,
    w_unknown=-0.252,
    w_unnamed=-1.614,
    undated=True,
    name="minilm-fit-notes-v4",
)
"""Fitted for all-MiniLM-L6-v2 on the fit corpus (with its named questions) at three
sizes (5,220 hits, 174 positive; see the module docstring), queries on the fp32 graph
(the default; refitted with ``Settings.quantized_queries`` on, the constants move by under
1% and LoCoMo's abstention is the same), with cosine,
``coverage_undated``, ``unknown`` and ``unnamed``: 0.5 at cosine 0.50 with no word in
common and nothing unknown, or cosine 0.14 with half the query's information covered; a
query whose every name is missing from the project needs about 0.21 more cosine."""

NOTES_V3 = Calibration(
    bias=-3.791,
    w_cosine=7.934,
    w_coverage=5.748,
    w_unknown=-0.309,
    undated=True,
    name="minilm-fit-notes-v3",
)
"""The default before v4: cosine, ``coverage_undated`` and ``unknown``, fitted on the fit
corpus without its named questions (kept for the comparison in ``make bench-quality``)."""

NOTES_V2 = Calibration(bias=-4.015, w_cosine=7.928, w_coverage=5.860, name="minilm-fit-notes-v2")
"""The default before v3: cosine and ``coverage`` alone, fitted on the fit corpus without
its named questions."""

WITH_MAXSIM = Calibration(
    bias=-4.593,
    w_cosine=5.804,
    w_coverage=4.637,
    w_unknown=-0.341,
    w_unnamed=-1.531,
    w_maxsim=4.043,
    undated=True,
    name="minilm-fit-notes-maxsim-v2",
)
"""For hits re-ranked by late interaction (``Settings.rerank_depth``), which carry a MaxSim:
fitted like the default (v4's features, the same FIT hits at the same three sizes) with
MaxSim as a fifth feature (``benchmarks/bench_recall_ideas.py``, never on LoCoMo). MaxSim
separates a relevant short or chatty memory that the pooled cosine undersells."""

WITH_MAXSIM_V1 = Calibration(
    bias=-4.753,
    w_cosine=6.122,
    w_coverage=5.079,
    w_maxsim=3.849,
    name="minilm-fit-notes-maxsim-v1",
)
"""``WITH_MAXSIM`` before v2: cosine, ``coverage`` and MaxSim (fitted beside v3)."""

LEXICAL_ONLY = Calibration(bias=-3.0, w_cosine=0.0, w_coverage=6.0, name="lexical-only-v1")
"""For embedders whose cosine scale is not calibrated (the test hash embedder): relevance
from word evidence alone, 0.5 at half the query's information covered."""


def calibration_for(embedder_identity: str) -> Calibration:
    """The calibration matching an embedder (its cosine scale is model-specific)."""
    if "minilm" in embedder_identity.lower():
        return DEFAULT_CALIBRATION
    return LEXICAL_ONLY


def with_maxsim(calibration: Calibration) -> Calibration | None:
    """The calibration for re-ranked hits matching ``calibration`` (None: keep it)."""
    return WITH_MAXSIM if calibration is DEFAULT_CALIBRATION else None


def coverage(
    weights: Sequence[float],
    own: Sequence[bool],
    neighbour: Sequence[bool],
    neighbour_weight: float,
    optional: Sequence[bool] | None = None,
) -> float:
    """IDF-weighted share of the query terms found in a memory: ``weights[i]`` is term
    i's IDF, ``own[i]`` whether the memory holds it, ``neighbour[i]`` whether only its
    predecessor does (counted at ``neighbour_weight``). ``optional[i]``: term i counts
    only where the memory or its predecessor holds it (a date's words, for
    ``coverage_undated``). 0 for a query with no terms."""
    opt = optional if optional is not None else [False] * len(weights)
    total = 0.0
    found = 0.0
    for w, o, nb, skip in zip(weights, own, neighbour, opt, strict=True):
        if skip and not (o or nb):
            continue
        total += w
        found += w * (1.0 if o else neighbour_weight if nb else 0.0)
    return found / total if total > 0.0 else 0.0
