"""Issue 14, third round: what the service returns, recorded once, so that calibration and
re-ranking ideas can be scored offline over the same hits (``bench_recall_ideas.py``).

Runs the real service (MiniLM vectors from ``benchmarks/.cache``) over LoCoMo (each
question of categories 1-4 in its own conversation's project and in the next one's, 50
hits at ``min_relevance=0``) and over the hand-written corpora ``FIT`` and ``CHECK`` at
the calibration's three sizes (every query in every project of its corpus, 10 hits, as
``calibrate.py`` asks). Each hit keeps its score, relevance and parts; each project its
ids, texts, vectors and episode predecessors. Written to
``benchmarks/.cache/recall_lab.pkl`` (git ignored).

    python benchmarks/recall_lab.py [LOCOMO_JSON]
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import numpy.typing as npt

from benchmarks.bench_quality import HEADLINE, Loaded, ingest
from benchmarks.calibrate import FIT_PADS, load_corpus, padded
from benchmarks.corpora import CHECK, FIT, CorpusProject
from benchmarks.embed_cache import CachedEmbedder
from benchmarks.locomo import TurnId, load_locomo
from memsvc import Actor, Channel, SearchQuery, Settings
from memsvc.bootstrap import Components, build_components

ACTOR = Actor.local(Channel.REST)
LAB = Path(__file__).resolve().parent / ".cache" / "recall_lab.pkl"
DEPTH = 50
CORPUS_DEPTH = 10


@dataclass
class Hit:
    id: str
    score: float
    relevance: float
    parts: dict[str, Any]


@dataclass
class Project:
    name: str
    ids: list[str]
    texts: list[str]
    vectors: npt.NDArray[np.float32]
    turns: dict[str, TurnId] = field(default_factory=dict)
    """LoCoMo only: memory id -> its (first) turn."""
    prev: list[int] = field(default_factory=list)
    """Each row's predecessor in its episode (the timeline's), or -1."""


@dataclass
class Asked:
    """One query asked in one project."""

    text: str
    project: str
    own: bool
    hits: list[Hit]
    answers: set[str] = field(default_factory=set)
    """Corpora: the ids that answer it (own project only)."""
    evidence: list[TurnId] = field(default_factory=list)
    """LoCoMo: its evidence turns."""
    category: int = 0
    conv: int = -1


@dataclass
class Lab:
    projects: dict[str, Project] = field(default_factory=dict)
    locomo: list[Asked] = field(default_factory=list)
    corpora: dict[str, list[Asked]] = field(default_factory=dict)
    """'fit+0', 'check+400', ...: every query in every project of the corpus."""
    query_vectors: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)


def _hits(parts: Components, project: str, text: str, limit: int) -> list[Hit]:
    q = SearchQuery(query=text, limit=limit, min_relevance=0.0)
    return [
        Hit(h.memory.id, h.score, h.relevance, dict(h.parts))
        for h in parts.service.search_memories(ACTOR, project, q)
    ]


def _project(parts: Components, name: str, turns: dict[str, TurnId] | None = None) -> Project:
    entry = parts.cache.entry(name, 0)
    ids = list(entry.ids[: entry.n])
    with entry.lock:
        prev = [int(r) for r in entry.timeline().prev[: entry.n]]
    vecs = parts.cache.vectors_of(name, entry.generation, ids)
    texts = [m.content for m in (parts.service.get_memory(ACTOR, name, i) for i in ids)]
    matrix = np.stack([vecs[i] for i in ids]).astype(np.float32)
    return Project(name, ids, texts, matrix, turns or {}, prev)


def collect_locomo(data: Path, embedder: CachedEmbedder, lab: Lab) -> None:
    convs = load_locomo(data)
    with tempfile.TemporaryDirectory(prefix="memsvc-lab-") as tmp:
        settings = Settings(data_dir=Path(tmp), background=False, embedder="minilm")
        with build_components(settings, embedder=embedder) as parts:
            loaded: list[Loaded] = [ingest(parts.service, c) for c in convs]
            for ld in loaded:
                turns = {mid: ts[0] for mid, ts in ld.turns_of.items()}
                lab.projects[ld.project] = _project(parts, ld.project, turns)
            for i, ld in enumerate(loaded):
                foreign = loaded[(i + 1) % len(loaded)]
                for q in ld.conv.questions:
                    if not (q.evidence and q.category in HEADLINE):
                        continue
                    lab.query_vectors[q.text] = parts.source.embed_query(q.text)
                    for proj, own in ((ld.project, True), (foreign.project, False)):
                        hits = _hits(parts, proj, q.text, DEPTH)
                        lab.locomo.append(
                            Asked(q.text, proj, own, hits, set(), list(q.evidence), q.category, i)
                        )
                print(f"  {ld.conv.sample_id} done", flush=True)


def collect_corpus(
    name: str, corpus: list[CorpusProject], pad: int, embedder: CachedEmbedder, lab: Lab
) -> None:
    corpus = padded(corpus, pad)
    out: list[Asked] = []
    with tempfile.TemporaryDirectory(prefix="memsvc-lab-") as tmp:
        settings = Settings(data_dir=Path(tmp), background=False, embedder="minilm")
        with build_components(settings, embedder=embedder) as parts:
            svc = parts.service
            ids = load_corpus(svc, corpus)
            for p in corpus:
                lab.projects[f"{name}+{pad}/{p.name}"] = _project(parts, p.name)
            for p in corpus:
                for text, answers in p.queries:
                    lab.query_vectors[text] = parts.source.embed_query(text)
                    wanted = {ids[p.name][i] for i in answers}
                    for other in corpus:
                        own = other.name == p.name
                        hits = _hits(parts, other.name, text, CORPUS_DEPTH)
                        key = f"{name}+{pad}/{other.name}"
                        out.append(Asked(text, key, own, hits, wanted if own else set()))
    lab.corpora[f"{name}+{pad}"] = out


def main() -> None:
    args = sys.argv[1:]
    fit, check = FIT, CHECK
    data = Path(args[0] if args else "../shared/bench/locomo_dev.json")
    embedder = CachedEmbedder()
    lab = Lab()
    collect_locomo(data, embedder, lab)
    for pad in FIT_PADS:
        collect_corpus("fit", fit, pad, embedder, lab)
        collect_corpus("check", check, pad, embedder, lab)
    embedder.save()
    LAB.parent.mkdir(parents=True, exist_ok=True)
    LAB.write_bytes(pickle.dumps(lab))
    print(f"wrote {LAB}: {len(lab.locomo)} LoCoMo asks, corpora {list(lab.corpora)}")


if __name__ == "__main__":
    main()
