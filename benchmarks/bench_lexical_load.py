"""Bulk load of the keyword index: ``LexicalIndex.put_many`` against ``put`` row by row.

    python benchmarks/bench_lexical_load.py --sizes 1000,10000,100000 --reps 5 --load-rows 10000

1. The build of a ``LexicalIndex`` from N texts of ``common.synthetic_memories``, the old
   path (one ``put`` per row, stemmer cache emptied first, as in a fresh process; and
   with it warm) and the new (``put_many``), alternating within each repetition.
2. The ideas behind ``put_many``, each timed against what it replaced on the same 8,192
   texts (one batch): tokenising, holding the tokens, stemming, counting. (torch is
   imported, by ``common.machine``, so the heap the collector walks is a server's.)
3. ``ProjectCache._load`` of a real data dir (filled through the service by
   ``bench_scale.fill_dir``, hash vectors) with ``put_many`` and with ``put_many`` swapped
   for the one-by-one loop inside this script only, alternating.

Writes ``benchmarks/results/lexical_load.md``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from itertools import chain, islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import RESULTS, header, synthetic_memories  # noqa: E402
from memsvc.retrieval import analysis  # noqa: E402
from memsvc.retrieval.lexical import LexicalIndex  # noqa: E402


def one_by_one(index: LexicalIndex, rows: Sequence[int], texts: Sequence[str]) -> None:
    for row, text in zip(rows, texts, strict=True):
        index.put(row, text)


def build_old_cold(texts: list[str]) -> None:
    analysis._stem.cache_clear()
    one_by_one(LexicalIndex(), range(len(texts)), texts)


def build_old_warm(texts: list[str]) -> None:
    one_by_one(LexicalIndex(), range(len(texts)), texts)


def build_new(texts: list[str]) -> None:
    LexicalIndex().put_many(range(len(texts)), texts)


def timed(fn: Callable[[], Any]) -> float:
    """Seconds of one call, after a full collection: the collector's count of objects
    promoted since the last one carries over between calls, and without it whichever
    variant happens to run when it passes a threshold pays a full collection of the heap
    (torch's objects included: 0.4-0.5 s here) for what the others allocated."""
    gc.collect()
    begin = time.perf_counter()
    fn()
    return time.perf_counter() - begin


def fmt(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{statistics.median(ms):,.1f} ({min(ms):,.1f}-{max(ms):,.1f})"


def alternate(variants: dict[str, Callable[[], Any]], reps: int) -> dict[str, list[float]]:
    """Each variant once per repetition, in turn (a noisy machine slows all alike)."""
    out: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(reps):
        for name, fn in variants.items():
            out[name].append(timed(fn))
    return out


def build_section(sizes: list[int], reps: int) -> list[str]:
    lines = [
        "## Build of the keyword index from N texts",
        "",
        "Milliseconds, median (min-max) over the repetitions; the variants alternate, each "
        "after a full garbage collection (`timed`).",
        "",
        "| N | one by one, cold stem cache | one by one, warm stem cache | put_many "
        "| speed-up vs cold | vs warm |",
        "|---:|---|---|---|---:|---:|",
    ]
    for n in sizes:
        texts = [t for _, t in synthetic_memories(n)]
        analysis.analyze("warm up")  # import the stemmer outside the timings
        got = alternate(
            {
                "cold": partial(build_old_cold, texts),
                "warm": partial(build_old_warm, texts),
                "new": partial(build_new, texts),
            },
            reps,
        )
        med = {k: statistics.median(v) for k, v in got.items()}
        lines.append(
            f"| {n:,} | {fmt(got['cold'])} | {fmt(got['warm'])} | {fmt(got['new'])} "
            f"| {med['cold'] / med['new']:.1f}x | {med['warm'] / med['new']:.1f}x |"
        )
        print(lines[-1], flush=True)
    return lines


def _regex_tokens(texts: list[str]) -> list[list[Any]]:
    return [analysis._TOKEN.findall(t.lower()) for t in texts]


def _fast_tokens(texts: list[str]) -> list[list[Any]]:
    return [analysis._tokens(t) for t in texts]


def _tokens_per_text(texts: list[str]) -> Any:
    tokens = list(map(analysis._tokens, texts))
    return tokens, dict.fromkeys(chain.from_iterable(tokens))


def _tokens_flat(texts: list[str]) -> Any:
    tokens: list[Any] = []
    counts = []
    for text in texts:
        found = analysis._tokens(text)
        tokens += found
        counts.append(len(found))
    return tokens, counts, dict.fromkeys(tokens)


def _stem_words(words: list[str], cache: int) -> list[str]:
    import Stemmer

    return list(Stemmer.Stemmer("english", cache).stemWords(words))


def _stem_lru(words: list[str]) -> list[str]:
    analysis._stem.cache_clear()
    return [analysis._stem(w) for w in words]


def _analyse_each(texts: list[str]) -> list[list[str]]:
    analysis._stem.cache_clear()
    return [analysis.analyze(t) for t in texts]


def _count_counter(rows: list[list[int]]) -> None:
    for terms in rows:
        Counter(terms)


def _count_fromkeys(rows: list[list[int]]) -> None:
    for terms in rows:
        counts = dict.fromkeys(terms, 1)
        if len(counts) < len(terms):
            counts = Counter(terms)


def ideas_section(reps: int) -> list[str]:
    texts = [t for _, t in synthetic_memories(8192)]
    done = analysis.analyze_batch(texts)
    words = list(
        dict.fromkeys(
            chain.from_iterable(w for w in map(analysis._unstemmed, done.terms) if w is not None)
        )
    )
    index = LexicalIndex()
    ids = {token: tuple(map(index._term_id, terms)) for token, terms in done.terms.items()}
    at = iter(done.tokens)
    rows = [list(chain.from_iterable(map(ids.__getitem__, islice(at, k)))) for k in done.counts]
    pairs = [
        (
            "tokenise 8,192 texts",
            "`_TOKEN.findall(text.lower())`",
            lambda: _regex_tokens(texts),
            "ASCII: `bytes.translate` + `split`",
            lambda: _fast_tokens(texts),
        ),
        (
            "hold 8,192 texts' tokens and find the distinct ones",
            "a list per text",
            lambda: _tokens_per_text(texts),
            "one flat list and a count per text",
            lambda: _tokens_flat(texts),
        ),
        (
            f"stem the batch's {len(words):,} distinct words",
            "`_stem` (lru_cache + lock) per word, cache emptied",
            lambda: _stem_lru(words),
            "one `stemWords`, PyStemmer cache off",
            lambda: _stem_words(words, 0),
        ),
        (
            f"stem the batch's {len(words):,} distinct words",
            "one `stemWords`, PyStemmer's default cache (10,000)",
            lambda: _stem_words(words, 10000),
            "one `stemWords`, PyStemmer cache off",
            lambda: _stem_words(words, 0),
        ),
        (
            "count 8,192 rows' term ids",
            "`Counter` per row",
            lambda: _count_counter(rows),
            "`dict.fromkeys`, `Counter` only for a row with a repeat",
            lambda: _count_fromkeys(rows),
        ),
        (
            "analyse 8,192 texts",
            "`analyze` per text (stem cache emptied)",
            lambda: _analyse_each(texts),
            "`analyze_batch`",
            lambda: analysis.analyze_batch(texts),
        ),
    ]
    lines = [
        "## The ideas, one at a time (one batch of 8,192 texts)",
        "",
        "| step | before | ms | after | ms |",
        "|---|---|---|---|---|",
    ]
    for step, before_name, before, after_name, after in pairs:
        got = alternate({"before": before, "after": after}, reps)
        was, now = fmt(got["before"]), fmt(got["after"])
        lines.append(f"| {step} | {before_name} | {was} | {after_name} | {now} |")
        print(lines[-1], flush=True)
    return lines


@contextmanager
def put_one_by_one() -> Iterator[None]:
    """``LexicalIndex.put_many`` as the loop of ``put`` that ``ProjectCache._load`` ran
    before it (this script only)."""
    bulk = LexicalIndex.put_many
    LexicalIndex.put_many = one_by_one  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        LexicalIndex.put_many = bulk  # type: ignore[method-assign]


def load_section(rows: int, reps: int, root: Path | None) -> list[str]:
    from benchmarks.bench_scale import DIM, fill_dir, server_embedder
    from memsvc import Settings
    from memsvc.bootstrap import build_components
    from memsvc.retrieval.cache import ProjectCache

    base = root or Path(tempfile.mkdtemp(prefix="memsvc-lexical-"))
    data = base / f"load-{rows}"
    data.mkdir(parents=True, exist_ok=True)
    begin = time.perf_counter()
    fill_dir(data, {"load": rows}, "hash", print)
    filled = time.perf_counter() - begin
    settings = Settings(data_dir=data, background=False, embedder=server_embedder("hash"))
    with build_components(settings) as parts:
        index = parts.index

        def load() -> None:
            entry = ProjectCache(index, DIM)._load("load", 0)
            assert entry.lexical.documents == rows, entry.lexical.documents

        def load_old() -> None:
            analysis._stem.cache_clear()
            with put_one_by_one():
                load()

        def snapshot() -> None:
            index.snapshot("load")

        load()  # open the table once outside the timings
        got = alternate({"old": load_old, "new": load, "snapshot": snapshot}, reps)
    med = {k: statistics.median(v) for k, v in got.items()}
    old_build = 1000 * (med["old"] - med["snapshot"])
    new_build = 1000 * (med["new"] - med["snapshot"])
    return [
        f"## `ProjectCache._load` of a {rows:,}-memory project (real data dir)",
        "",
        f"Data dir `{data}` (filled through the service with `bench_scale.fill_dir`, hash "
        f"vectors, {filled:.0f} s incl. compaction; reused when it exists). Milliseconds, "
        "median (min-max); the three alternate, each after a full garbage collection.",
        "",
        "| | ms |",
        "|---|---|",
        f"| `_load`, keyword index one `put` per row (stem cache emptied) | {fmt(got['old'])} |",
        f"| `_load`, `put_many` | {fmt(got['new'])} |",
        f"| of which reading the table (`LanceIndex.snapshot` alone) | {fmt(got['snapshot'])} |",
        f"| speed-up of `_load` | {med['old'] / med['new']:.1f}x |",
        f"| keyword index build inside `_load` (load minus snapshot) | "
        f"{old_build:,.0f} → {new_build:,.0f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--load-rows", type=int, default=10000, help="0: skip the _load part")
    parser.add_argument("--root", type=Path, default=None, help="where the data dir goes")
    parser.add_argument("--out", type=Path, default=RESULTS / "lexical_load.md")
    args = parser.parse_args()
    command = "python benchmarks/bench_lexical_load.py " + " ".join(sys.argv[1:])
    load_before = os.getloadavg()[0]
    lines = header("Bulk load of the keyword index", command)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    lines += [*build_section(sizes, args.reps), ""]
    lines += [*ideas_section(args.reps), ""]
    if args.load_rows:
        lines += [*load_section(args.load_rows, args.reps, args.root), ""]
    lines.insert(
        6, f"- load average (1 min): {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    )
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
