"""all-MiniLM-L6-v2 on ONNX Runtime, exported locally from the bundled weights.

Nothing is downloaded: the first load exports the bundled safetensors through
``torch.onnx`` into a cache file keyed by the model's content and the exporter, and every
later load (in any process) reuses that file without importing torch at all. The graph
includes sentence-transformers' mean pooling and L2 normalisation, so its output is the
same vector ``SentenceTransformer.encode(..., normalize_embeddings=True)`` gives.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "EXPORT_VERSION",
    "OnnxMiniLM",
    "cached_model_path",
    "onnxruntime_available",
    "quantized_path",
]

log = logging.getLogger(__name__)

EXPORT_VERSION = 1
"""Bumped whenever the exported graph changes (inputs, pooling, opset)."""
OPSET = 17
MAX_TOKENS = 256
"""sentence-transformers' ``max_seq_length`` for this model (``sentence_bert_config.json``);
the bundled ``tokenizer.json`` says 128, which is not what ``encode`` uses."""


def onnxruntime_available() -> bool:
    """True when ONNX Runtime can be imported (checked without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def model_digest(model_dir: Path) -> str:
    """Content hash of what the exported graph depends on: the weights and the config."""
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        with (model_dir / name).open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def cached_model_path(cache_dir: Path, model_dir: Path) -> Path:
    """Where the export of ``model_dir`` lives: one file per model content, torch version,
    opset and export format, so a changed model or exporter never reuses a stale graph."""
    torch_version = _version("torch").replace("+", "_")
    name = (
        f"all-MiniLM-L6-v2-{model_digest(model_dir)}-torch{torch_version}"
        f"-op{OPSET}-v{EXPORT_VERSION}.onnx"
    )
    return cache_dir / name


def export_onnx(model_dir: Path, dest: Path) -> None:
    """Export the bundled model (with pooling and normalisation) to ``dest``, atomically:
    a concurrent reader sees either no file or a whole one."""
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        """BERT, then mean pooling over the attention mask, then L2 normalisation."""

        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1)

    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    module = Pooled(bert).eval()
    dest.parent.mkdir(parents=True, exist_ok=True)
    example = torch.ones((2, 8), dtype=torch.int64)
    fd, tmp = tempfile.mkstemp(prefix=dest.name, suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            # The TorchScript exporter warns about its own deprecation and about traced
            # Python conditionals; the vector test checks the graph over varied shapes.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (example, example),
                tmp,
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "embedding": {0: "batch"},
                },
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def quantized_path(fp32: Path) -> Path:
    """Where the int8 copy of the export at ``fp32`` lives (beside it)."""
    return fp32.with_name(f"{fp32.stem}-int8q{QUANTIZE_VERSION}.onnx")


QUANTIZE_VERSION = 1
"""Bumped whenever ``quantize`` changes what it writes."""


def quantize(src: Path, dest: Path) -> None:
    """Write an int8 copy of the exported graph to ``dest``, atomically: ONNX Runtime's
    dynamic quantization of the MatMul weights, one scale per output channel (activations
    are quantized on the fly). Quantizing every op with one scale per tensor moved the
    vectors too far (mean cosine to fp32 0.971 on 300 LoCoMo questions, a one-off check
    while choosing, against 0.994 this way); what ships is measured in
    ``benchmarks/results/query_int8.md``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

    fd, tmp = tempfile.mkstemp(prefix=dest.name, suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        quantize_dynamic(
            str(src),
            tmp,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


Vectors = npt.NDArray[np.float32]


class OnnxMiniLM:
    """The exported graph in an ONNX Runtime session plus the bundled tokenizer.

    Thread-safe without a lock: the tokenizer is configured once (truncation at 256, no
    padding: padding is done here per batch, to the batch's longest text) and never
    mutated afterwards, and ``InferenceSession.run`` may be called from many threads.
    """

    def __init__(
        self, model_dir: Path, cache_dir: Path, threads: int = 1, quantized_queries: bool = False
    ) -> None:
        from tokenizers import Tokenizer

        path = cached_model_path(cache_dir, model_dir)
        if not path.exists():
            log.info("exporting all-MiniLM-L6-v2 to ONNX at %s (once)", path)
            export_onnx(model_dir, path)
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # The bundled tokenizer.json pads every input to 128 tokens: that makes a query
        # four times slower and changes nothing in the pooled vector.
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer = tokenizer
        try:
            self._session = _session(path, threads)
        except Exception:  # noqa: BLE001 - a damaged cache file is re-exported once
            log.warning("cached ONNX model %s unreadable; exporting it again", path)
            path.unlink(missing_ok=True)
            export_onnx(model_dir, path)
            self._session = _session(path, threads)
        self._query_session = self._session
        self.quantized_queries = False
        """Whether queries run on the int8 graph (asked for, and it could be made)."""
        if quantized_queries:
            try:
                self._query_session = _quantized_session(path, threads)
                self.quantized_queries = True
            except Exception:  # queries then run on the fp32 graph
                log.warning("quantizing the ONNX model failed; queries use fp32", exc_info=True)
        self.path = path
        self.threads = threads

    def embed_query(self, text: str) -> Vectors:
        """One query's vector (1 x 384): from the int8 graph when ``quantized_queries``
        (the stored memories' vectors always come from the fp32 one, ``embed``)."""
        return self._run([self._tokenizer.encode(text).ids], self._query_session)

    def _run(self, ids: Sequence[Sequence[int]], session: Any = None) -> Vectors:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, tokens in enumerate(ids):
            input_ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        run = (session or self._session).run
        out = run(["embedding"], {"input_ids": input_ids, "attention_mask": mask})
        return np.ascontiguousarray(out[0], dtype=np.float32)

    def embed(self, texts: list[str], batch_size: int) -> Vectors:
        """Vectors for ``texts`` in order; batches group texts of similar length (as
        ``encode`` does) so little is spent on padding."""
        if len(texts) == 1:
            return self._run([self._tokenizer.encode(texts[0]).ids])
        encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._run([encodings[i].ids for i in chunk])
        return out


def _session(path: Path, threads: int) -> Any:
    """An ONNX Runtime session on the CPU for the graph at ``path``."""
    import onnxruntime as ort  # type: ignore[import-untyped]

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _quantized_session(fp32: Path, threads: int) -> Any:
    """A session on the int8 copy of ``fp32``, quantizing it first when no copy exists
    (or the copy is unreadable)."""
    dest = quantized_path(fp32)
    if not dest.exists():
        log.info("quantizing the ONNX model to %s (once)", dest)
        quantize(fp32, dest)
    try:
        return _session(dest, threads)
    except Exception:  # noqa: BLE001 - a damaged copy is quantized again once
        log.warning("quantized ONNX model %s unreadable; quantizing it again", dest)
        dest.unlink(missing_ok=True)
        quantize(fp32, dest)
        return _session(dest, threads)
