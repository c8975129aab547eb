"""The interface every VLM backend implements, and the parts BLIP-2 and LLaVA share.

A :class:`VlmSession` wraps one loaded ``transformers`` model and its processor. It captions
and answers questions with any number of concept embeddings appended per image, and exposes
what training needs: the frozen features to cache and a loss on them. Images with no concept
are generated with no hook installed at all, so their output is the plain model's, token for
token (MyVLM's preservation property).
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from PIL import Image

log = logging.getLogger(__name__)


@dataclass
class SessionSettings:
    """How a backend prompts and decodes; ``None`` means the backend's own default."""

    caption_prompt: str | None = None  # may contain {concepts}
    plain_caption_prompt: str | None = None  # used when no concept fired
    question_template: str | None = None  # BLIP-2 only: "Question: {} Answer:"
    max_new_tokens: int = 40
    batch_size: int = 8
    kv_norm_match: bool = True  # BLIP-2 only, as MyVLM does; LLaVA always rescales the token
    #: Multiplier of the reference's norm target (BLIP-2 keys/values, LLaVA token); 1.0 is
    #: the method as published, tiny models may need the concept louder.
    concept_scale: float = 1.0
    #: BLIP-2 only. "joint": one softmax over the image tokens and every concept token, as
    #: published. "separate": each concept token competes only with the image tokens (as
    #: when it was trained alone) and their contributions add up (photos of several
    #: concepts; :class:`photod.vlm.blip2.Blip2Injection`).
    concept_attention: Literal["joint", "separate"] = "joint"


@dataclass
class TrainingRows:
    """A tokenised training batch: prefix (prompt + image placeholders) then target."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor
    extra: dict[str, Any] = field(default_factory=dict)


class VlmSession(ABC):
    """One loaded VLM with concept-token injection. Subclasses set the class variables."""

    family: ClassVar[str]
    model_types: ClassVar[tuple[str, ...]]
    #: Regulariser weights (captioning, VQA) from the reference implementation.
    default_reg_lambda: ClassVar[tuple[float, float]]
    default_caption_prompt: ClassVar[str]
    default_plain_caption_prompt: ClassVar[str]

    def __init__(
        self, model: Any, processor: Any, *, model_id: str, settings: SessionSettings | None = None
    ) -> None:
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)  # frozen VLM: only concept embeddings ever train
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.model_id = model_id
        self.settings = settings or SessionSettings()
        self._prefix_cache: dict[str, list[int]] = {}
        self._target_cache: dict[str, list[int]] = {}
        #: Held by every use of the model: injections install hooks on the shared model, so
        #: the pipeline's captions and a concept training in the scheduler take turns.
        self.lock = threading.RLock()

    # ----- what each backend provides -------------------------------------------------
    @staticmethod
    def model_class() -> type:
        """The ``transformers`` model class this backend loads with ``from_pretrained``."""
        raise NotImplementedError

    @property
    @abstractmethod
    def concept_dim(self) -> int:
        """Width of a concept embedding (the hooked layer's width)."""

    @abstractmethod
    def frozen_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The frozen features before the hook point (cached during training)."""

    def image_patches(self, features: torch.Tensor) -> torch.Tensor:
        """The image-patch positions of :meth:`frozen_features` (what a look is made of)."""
        return features

    @abstractmethod
    def injection(
        self,
        concepts: Sequence[Sequence[torch.Tensor]],
        *,
        cached: torch.Tensor | None = None,
        record_attention: bool = False,
    ) -> AbstractContextManager[Any]:
        """Hooks appending ``concepts[i]`` to image ``i`` while the context is open."""

    @abstractmethod
    def prompt_text(self, question: str | None, identifiers: Sequence[str]) -> str:
        """The processor text for a caption (``question`` None) or a question."""

    @abstractmethod
    def training_loss(
        self,
        features: torch.Tensor,
        concepts: Sequence[Sequence[torch.Tensor]],
        prompts: Sequence[str],
        targets: Sequence[str],
        with_regulariser: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """LM loss on ``targets`` after ``prompts`` (from :meth:`prompt_text`), with
        ``concepts[i]`` injected into the cached ``features[i]``, and the attention
        regulariser per row (zeros when off)."""

    # ----- shared machinery -------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """Where the model lives."""
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The model's floating point type."""
        return next(self.model.parameters()).dtype

    @property
    def image_token_id(self) -> int:
        """The placeholder token the model scatters visual features into."""
        cfg = self.model.config
        tid = getattr(cfg, "image_token_id", None)
        return tid if tid is not None else cfg.image_token_index

    def caption_instruction(self, identifiers: Sequence[str]) -> str:
        """The caption instruction; names the concepts only when some fired (as MyVLM)."""
        s = self.settings
        if identifiers:
            tpl = s.caption_prompt if s.caption_prompt is not None else self.default_caption_prompt
            return tpl.replace("{concepts}", " and ".join(identifiers))
        return (
            s.plain_caption_prompt
            if s.plain_caption_prompt is not None
            else self.default_plain_caption_prompt
        )

    def pixel_values(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Preprocessed images on the model's device and dtype."""
        pv = self.processor.image_processor(
            [im.convert("RGB") for im in images], return_tensors="pt"
        )["pixel_values"]
        return pv.to(self.device, self.dtype)

    def prefix_ids(self, text: str) -> list[int]:
        """Token ids of a prompt with the image placeholders expanded (memoised: training
        reuses a handful of prompts hundreds of times)."""
        if text not in self._prefix_cache:
            size = self._image_size()
            dummy = Image.new("RGB", (size, size))
            enc = self.processor(images=[dummy], text=[text], return_tensors="pt")
            ids, mask = enc["input_ids"][0], enc["attention_mask"][0]
            self._prefix_cache[text] = ids[mask.bool()].tolist()
        return list(self._prefix_cache[text])

    def target_ids(self, text: str) -> list[int]:
        """Token ids of a training target, then EOS (memoised: each step retokenised the
        same few targets)."""
        if text not in self._target_cache:
            tok = self.tokenizer
            self._target_cache[text] = tok(text, add_special_tokens=False)["input_ids"] + [
                tok.eos_token_id
            ]
        return list(self._target_cache[text])

    def _image_size(self) -> int:
        vc = self.model.config.vision_config
        size = vc.image_size
        return size if isinstance(size, int) else size[0]

    def place_concepts(self, ids: list[int], count: int) -> list[int]:
        """Prompt ids with room for ``count`` concept tokens (none needed by default)."""
        return ids

    def pad_left(self, rows: Sequence[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded ids and mask: generation continues every row at the same column."""
        pad = self.tokenizer.pad_token_id
        width = max(len(r) for r in rows)
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        return ids.to(self.device), mask.to(self.device)

    @torch.no_grad()
    def generate(
        self,
        images: Sequence[Image.Image],
        questions: Sequence[str | None],
        concepts: Sequence[Sequence[tuple[str, torch.Tensor]]],
    ) -> list[str]:
        """Deterministic text per image; ``concepts[i]`` = (identifier, embedding) pairs in
        the order their tokens are appended (an embedding of shape ``(n, D)`` appends ``n``
        tokens). Images are grouped by token count so that no image ever carries padding
        slots, and the no-concept group runs unhooked."""
        with self.lock:
            return self._generate(images, questions, concepts)

    def _generate(self, images, questions, concepts) -> list[str]:
        out: list[str | None] = [None] * len(images)
        groups: dict[int, list[int]] = {}
        for i, c in enumerate(concepts):
            groups.setdefault(sum(len(self.tokens_of(e)) for _, e in c), []).append(i)
        bs = self.settings.batch_size
        for count, idxs in sorted(groups.items()):
            for start in range(0, len(idxs), bs):
                chunk = idxs[start : start + bs]
                texts = self._generate_chunk(
                    [images[i] for i in chunk],
                    [questions[i] for i in chunk],
                    [list(concepts[i]) for i in chunk],
                    count,
                )
                for i, t in zip(chunk, texts, strict=True):
                    out[i] = t
        return [t or "" for t in out]

    def _generate_chunk(self, images, questions, concepts, count: int, beams: int = 1) -> list[str]:
        """``beams`` texts per image (beam search's best first), images in order."""
        rows = [
            self.place_concepts(self.prefix_ids(self.prompt_text(q, [n for n, _ in c])), count)
            for q, c in zip(questions, concepts, strict=True)
        ]
        input_ids, mask = self.pad_left(rows)
        pixel_values = self.pixel_values(images)
        kwargs = dict(
            input_ids=input_ids,
            attention_mask=mask,
            pixel_values=pixel_values,
            max_new_tokens=self.settings.max_new_tokens,
            do_sample=False,
            num_beams=beams,
            num_return_sequences=beams,
        )
        if count == 0:
            ids = self.model.generate(**kwargs)
        else:
            with self.injection([[t for _, e in c for t in self.tokens_of(e)] for c in concepts]):
                ids = self.model.generate(**kwargs)
        ids = self.new_tokens(ids, input_ids.shape[1])
        return [t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]

    @torch.no_grad()
    def caption_candidates(self, images: Sequence[Image.Image], beams: int) -> list[list[str]]:
        """Per image, the plain model's ``beams`` best captions by beam search, best first
        (deterministic; ``beams=1`` is :meth:`generate`'s greedy caption)."""
        out: list[list[str]] = []
        with self.lock:
            # Beam search holds ``beams`` rows per image: smaller chunks, same memory.
            step = max(1, self.settings.batch_size // beams)
            for start in range(0, len(images), step):
                chunk = list(images[start : start + step])
                texts = self._generate_chunk(
                    chunk, [None] * len(chunk), [[]] * len(chunk), 0, beams
                )
                out += [texts[i * beams : (i + 1) * beams] for i in range(len(chunk))]
        return out

    def tokens_of(self, embedding: torch.Tensor) -> list[torch.Tensor]:
        """The token vectors of one concept embedding (MyVLM: one; ``(n, D)``: n)."""
        return list(embedding.reshape(-1, self.concept_dim))

    def new_tokens(self, ids: torch.Tensor, prompt_len: int) -> torch.Tensor:
        """The generated part: decoder-only ``generate`` returns prompt + new tokens."""
        return ids[:, prompt_len:]

    def training_rows(
        self, prompts: Sequence[str], targets: Sequence[str], counts: Sequence[int]
    ) -> TrainingRows:
        """Decoder-only batch: prefix then target + EOS, loss on the target only."""
        tok = self.tokenizer
        rows, labels = [], []
        for prompt, t, k in zip(prompts, targets, counts, strict=True):
            prefix = self.place_concepts(self.prefix_ids(prompt), k)
            tgt = self.target_ids(t)
            rows.append(prefix + tgt)
            labels.append([-100] * len(prefix) + tgt)
        width = max(len(r) for r in rows)
        pad = tok.pad_token_id
        dev = self.device
        return TrainingRows(
            torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=dev),
            torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=dev),
            torch.tensor([r + [-100] * (width - len(r)) for r in labels], device=dev),
        )
