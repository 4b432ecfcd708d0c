"""The real bundled MiniLM on both backends: safe under concurrency, ONNX matching torch,
the local export cached and reused, readiness reported."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memsvc.errors import InvalidInput
from memsvc.retrieval.embedder import HashEmbedder, MiniLMEmbedder, QueryCache, make_embedder
from memsvc.retrieval.onnx_embedder import OnnxMiniLM, cached_model_path

_SENTENCE = (
    "the agent stored a memory about project deadlines violin river apartment kubernetes "
    "deploy rollback migration schema index query latency user prefers dark mode tests "
    "failing flaky network retry budget meeting Tuesday Paris café naïve résumé 東京 42 "
    "v2.3.1 http://example.org/x?y=1 SELECT * FROM t; emoji 🚀 don't can't it's"
)
_WORDS = _SENTENCE.split()


def varied_texts(count: int, seed: int) -> list[str]:
    """Texts from one word to past the 256-token truncation, mixed case, punctuation,
    accents, CJK, code and URLs: what agents write."""
    rng = random.Random(seed)
    texts = []
    for i in range(count):
        length = rng.choice([1, 2, 3, 4, 5, 8, 10, 13, 16, 21, 30, 40, 60, 80, 300])
        words = [rng.choice(_WORDS) for _ in range(length)]
        if i % 7 == 0:
            words = [w.upper() for w in words]
        sep = rng.choice([" ", ", ", ". ", "\n"])
        texts.append(sep.join(words))
    return texts


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def torch_model() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder(backend="torch")
    embedder.warm()
    return embedder


@pytest.fixture(scope="module")
def onnx_model(onnx_cache: Path) -> MiniLMEmbedder:
    embedder = MiniLMEmbedder(backend="onnx", cache_dir=onnx_cache)
    embedder.warm()
    return embedder


@pytest.fixture
def slow_tokenizer_reconfiguration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen the window in which the Hugging Face tokenizer's Rust state is reconfigured
    for one call and used by it, so a thread interleaving that is rare in production
    (one in thousands of calls) happens within a few calls here."""
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    original = TokenizersBackend.set_truncation_and_padding

    def slowed(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        threading.Event().wait(0.003)
        return result

    monkeypatch.setattr(TokenizersBackend, "set_truncation_and_padding", slowed)


def _hammer(embedder: MiniLMEmbedder, rounds: int) -> tuple[list[str], int]:
    """Batch embeds (as writes do) and single-query embeds (as searches do) from six
    threads at once; returns the errors raised and how many results differed from the
    same texts embedded alone."""
    # short texts of different lengths: a padded batch differs from an unpadded one, and
    # cheap forward passes make many tokenizer calls overlap
    rng = random.Random(5)
    batches = [
        [" ".join(rng.choices(_WORDS, k=rng.randint(1, 30))) for _ in range(4)] for _ in range(3)
    ]
    queries = [" ".join(rng.choices(_WORDS, k=rng.randint(1, 12))) for _ in range(3)]
    expected = {t: embedder.embed([t])[0] for b in batches for t in b}
    expected.update({q: embedder.embed([q])[0] for q in queries})
    errors: list[str] = []
    wrong = 0
    lock = threading.Lock()

    def run(texts: list[str]) -> None:
        nonlocal wrong
        for _ in range(rounds):
            try:
                got = embedder.embed(texts)
            except Exception as exc:
                with lock:
                    errors.append(repr(exc))
                continue
            bad = sum(
                float(np.dot(v, expected[t])) < 0.9999 for t, v in zip(texts, got, strict=True)
            )
            with lock:
                wrong += bad

    jobs: list[Callable[[], None]] = [lambda b=b: run(b) for b in batches]
    jobs += [lambda q=q: run([q]) for q in queries]
    with ThreadPoolExecutor(len(jobs)) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()
    return errors, wrong


@pytest.mark.slow
@pytest.mark.usefixtures("slow_tokenizer_reconfiguration")
def test_torch_backend_survives_concurrent_batches_and_queries(
    torch_model: MiniLMEmbedder,
) -> None:
    errors, wrong = _hammer(torch_model, rounds=20)
    assert errors == []
    assert wrong == 0


@pytest.mark.slow
def test_onnx_backend_survives_concurrent_batches_and_queries(onnx_model: MiniLMEmbedder) -> None:
    errors, wrong = _hammer(onnx_model, rounds=10)
    assert errors == []
    assert wrong == 0


@pytest.mark.slow
def test_onnx_vectors_match_torch_on_varied_texts(
    torch_model: MiniLMEmbedder, onnx_model: MiniLMEmbedder
) -> None:
    texts = varied_texts(240, seed=7)
    batched_torch = torch_model.embed(texts)
    batched_onnx = onnx_model.embed(texts)
    cosines = np.sum(batched_torch * batched_onnx, axis=1)
    assert float(cosines.mean()) >= 0.999
    assert float(cosines.min()) >= 0.995
    # single queries take the unpadded path on both backends
    singles = texts[:24]
    one_torch = np.stack([torch_model.embed([t])[0] for t in singles])
    one_onnx = np.stack([onnx_model.embed([t])[0] for t in singles])
    assert float(np.sum(one_torch * one_onnx, axis=1).mean()) >= 0.999
    # a query's vector does not depend on the batch it came in
    assert float(np.sum(one_onnx * batched_onnx[:24], axis=1).min()) >= 0.9999
    norms = np.linalg.norm(batched_onnx, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)
    assert onnx_model.identity == torch_model.identity


@pytest.mark.slow
def test_onnx_vectors_rank_paraphrases_like_torch(onnx_model: MiniLMEmbedder) -> None:
    docs = [
        "Jo finally started learning the violin.",
        "We moved to a bigger apartment downtown near the river.",
        "The deploy was rolled back after the migration failed.",
    ]
    queries = [
        "Which musical instrument is Jo studying?",
        "Is their new home by the water?",
        "Why was the release reverted?",
    ]
    scores = onnx_model.embed(queries) @ onnx_model.embed(docs).T
    assert list(np.argmax(scores, axis=1)) == [0, 1, 2]


@pytest.mark.slow
def test_onnx_export_is_cached_once_and_reused(
    onnx_model: MiniLMEmbedder, onnx_cache: Path
) -> None:
    exports = [p for p in onnx_cache.glob("*.onnx") if "-int8q" not in p.name]
    assert len(exports) == 1
    stamp = exports[0].stat().st_mtime_ns
    again = MiniLMEmbedder(backend="onnx", cache_dir=onnx_cache)
    assert not again.ready
    vec = again.embed(["reuse the cached export"])
    assert again.ready and again.backend == "onnx"
    assert exports[0].stat().st_mtime_ns == stamp
    assert [p for p in onnx_cache.glob("*") if "-int8q" not in p.name] == exports
    assert float(np.dot(vec[0], onnx_model.embed(["reuse the cached export"])[0])) > 0.9999


@pytest.mark.slow
def test_a_damaged_cached_export_is_rebuilt(tmp_path: Path, onnx_model: MiniLMEmbedder) -> None:
    from memsvc.retrieval.embedder import _model_dir

    model_dir = _model_dir()
    broken = cached_model_path(tmp_path, model_dir)
    broken.write_bytes(b"not an onnx graph")
    runtime = OnnxMiniLM(model_dir, tmp_path)
    assert runtime.path == broken and broken.stat().st_size > 1_000_000
    vec = runtime.embed(["rebuilt"], 64)
    assert float(np.dot(vec[0], onnx_model.embed(["rebuilt"])[0])) > 0.9999


def test_cache_file_name_changes_with_the_model_content(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights-1")
    first = cached_model_path(tmp_path / "cache", model)
    assert first == cached_model_path(tmp_path / "cache", model)
    (model / "model.safetensors").write_bytes(b"weights-2")
    assert cached_model_path(tmp_path / "cache", model) != first


def test_model_is_not_loaded_until_warmed_or_used() -> None:
    embedder = MiniLMEmbedder(backend="torch")
    assert embedder.ready is False
    assert embedder.backend is None
    assert embedder.embed([]).shape == (0, 384)
    assert embedder.ready is False


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(InvalidInput):
        MiniLMEmbedder(backend="tensorflow")
    with pytest.raises(InvalidInput):
        make_embedder("word2vec")


def test_make_embedder_passes_the_backend_and_keeps_the_fake_embedder() -> None:
    made = make_embedder("minilm", 32, backend="torch")
    assert isinstance(made, MiniLMEmbedder) and made.identity == "all-MiniLM-L6-v2"
    fake = make_embedder("hash-32")
    assert isinstance(fake, HashEmbedder)
    vecs = fake.embed(["same words here", "same words here", "other"])
    assert vecs.shape == (3, 32)
    assert float(vecs[0] @ vecs[1]) == pytest.approx(1.0)


@pytest.mark.slow
def test_serve_loads_the_model_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, onnx_cache: Path, onnx_model: MiniLMEmbedder
) -> None:
    import importlib

    from memsvc import bootstrap
    from memsvc.retrieval import embedder as embedder_module

    # the module, not the `main` function the package re-exports under the same name
    cli = importlib.import_module("memsvc_cli.main")
    serving = importlib.import_module("memsvc_cli.serving")

    made: list[MiniLMEmbedder] = []
    real_make = embedder_module.make_embedder

    def make(name: str, batch_size: int = 64, **kwargs: Any) -> Any:
        # the module's cache holds an export already; the backend comes from the settings
        made.append(real_make(name, batch_size, cache_dir=onnx_cache, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    served: list[bool] = []

    def run(app: Any, **kwargs: Any) -> None:
        # the server is up; no request has been made; the model loads on its own
        pause = threading.Event()
        for _ in range(1200):
            if made[-1].ready:
                break
            pause.wait(0.1)
        served.append(made[-1].ready)

    monkeypatch.setattr(bootstrap, "make_embedder", make)
    monkeypatch.setattr(serving, "serve", run)
    monkeypatch.setattr(cli, "WARM_DELAY_S", 0.0)
    monkeypatch.setenv("MEMSVC_EMBEDDER", "minilm")
    monkeypatch.setenv("MEMSVC_EMBEDDER_BACKEND", "onnx")
    monkeypatch.setenv("MEMSVC_BACKGROUND", "false")
    assert cli.main(["serve", "--data-dir", str(tmp_path / "data")]) == 0
    assert served == [True]
    assert made[-1].backend == "onnx"


_QUERIES = [
    "where are orders stored?",
    "What did we decide about the retry budget for payment webhooks?",
    "which database engine stores orders",
    "When did Caroline go to the LGBTQ support group?",
    "how do I run the migrations locally",
    "what does the image worker do with uploads",
    "Why did we move the cart from Postgres to Redis last spring?",
    "kubernetes helm chart values",
    "what is the naming convention for feature flags",
    "who owns the on-call rotation this week?",
]


@pytest.mark.slow
def test_quantized_queries_stay_close_to_the_fp32_vectors(onnx_cache: Path) -> None:
    """Queries on the int8 copy of the export (opt-in on ONNX): near the fp32 vector a
    memory gets, the copy made once beside the export and reused; off, the fp32 vector."""
    quantized = MiniLMEmbedder(backend="onnx", cache_dir=onnx_cache, quantized_queries=True)
    plain = MiniLMEmbedder(backend="onnx", cache_dir=onnx_cache)
    texts = [*_QUERIES, *varied_texts(12, seed=5)]
    fp32 = plain.embed(texts)
    q8 = np.stack([quantized.embed_query(t) for t in texts])
    cosines = (fp32 * q8).sum(axis=1)
    assert float(cosines[: len(_QUERIES)].mean()) > 0.99  # what agents ask
    assert float(cosines.min()) > 0.95  # word salad, shouting and 300-word texts too
    assert not np.array_equal(q8, fp32)  # it is the int8 graph that answered
    # one text alone, unpadded, matches its row of the padded batch to float rounding
    assert np.allclose(np.stack([plain.embed_query(t) for t in texts]), fp32, atol=1e-5)
    assert np.array_equal(quantized.embed(texts), fp32)  # memories always on fp32
    copies = list(onnx_cache.glob("*-int8q*.onnx"))
    assert len(copies) == 1
    stamp = copies[0].stat().st_mtime_ns
    again = MiniLMEmbedder(backend="onnx", cache_dir=onnx_cache, quantized_queries=True)
    assert np.array_equal(again.embed_query(texts[0]), q8[0])
    assert copies[0].stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_a_damaged_quantized_copy_is_made_again(tmp_path: Path, onnx_model: MiniLMEmbedder) -> None:
    from memsvc.retrieval.embedder import _model_dir
    from memsvc.retrieval.onnx_embedder import quantized_path

    model_dir = _model_dir()
    fp32 = cached_model_path(tmp_path, model_dir)
    fp32.write_bytes(onnx_model_path(onnx_model).read_bytes())
    quantized_path(fp32).write_bytes(b"not an onnx graph")
    runtime = OnnxMiniLM(model_dir, tmp_path, quantized_queries=True)
    assert runtime.quantized_queries and quantized_path(fp32).stat().st_size > 1_000_000
    vec = runtime.embed_query("made again")[0]
    assert float(vec @ runtime.embed(["made again"], 64)[0]) > 0.97


def test_query_cache_asks_for_a_query_vector_where_the_embedder_has_one() -> None:
    class Twofold(HashEmbedder):
        def embed_query(self, text: str) -> np.ndarray:
            return -self.embed([text])[0]

    emb = Twofold(16)
    cache = QueryCache(emb)
    assert np.array_equal(cache.get("hello world"), -emb.embed(["hello world"])[0])
    assert np.array_equal(QueryCache(HashEmbedder(16)).get("hi"), HashEmbedder(16).embed(["hi"])[0])


def onnx_model_path(embedder: MiniLMEmbedder) -> Path:
    """The export file the loaded ONNX embedder runs."""
    return Path(embedder._load().path)  # type: ignore[attr-defined]
