"""LLaVA-family backend: the concept token joins the projected visual tokens.

Hook point (transformers 5.x ``LlavaForConditionalGeneration``): the inner model's
``get_image_features`` is shadowed for one call. It returns one tensor per image (a list),
so each image can get its own number of concept tokens; each token is rescaled to the mean
norm of that image's visual tokens and needs one more image placeholder in the prompt.
The regulariser reads the LM's eager attention probabilities (``output_attentions``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from contextlib import contextmanager

import torch
from transformers.modeling_outputs import BaseModelOutputWithPooling

from photod.vlm.base import VlmSession
from photod.vlm.injection import HookSet, normalise


def instruction_prompt(processor, text: str) -> str:
    """A one-turn user prompt (image + ``text``) in the processor's own format.

    The processor's chat template if it has one (real checkpoints and the toy fixture do),
    else ``<image> text``.
    """
    if getattr(processor, "chat_template", None):
        msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
        return processor.apply_chat_template(msgs, add_generation_prompt=True)
    return f"{processor.image_token} {text}"


def place_placeholders(ids: list[int], image_token_id: int, count: int) -> list[int]:
    """``ids`` with ``count`` more image placeholders right after the image's own (one per
    appended token)."""
    if count == 0:
        return ids
    last = max(i for i, t in enumerate(ids) if t == image_token_id)
    return ids[: last + 1] + [image_token_id] * count + ids[last + 1 :]


def projected_features(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """The projector output, one row of visual tokens per image (where concept tokens join)."""
    out = model.model.get_image_features(pixel_values=pixel_values, return_dict=True)
    return torch.stack(list(out.pooler_output))


class LlavaInjection(HookSet):
    """Concept tokens appended after the projector, per image, while open."""

    def __init__(
        self,
        model,
        concepts: Sequence[Sequence[torch.Tensor]],
        *,
        cached: torch.Tensor | None = None,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.scale = scale
        inner = model.model
        original = inner.get_image_features
        self.concepts = [list(c) for c in concepts]

        # generate() picks the arguments to pass by inspecting the signature: keep it.
        @functools.wraps(original)
        def features(*args, **kwargs):
            if cached is None:
                out = original(*args, **kwargs)
            else:  # training: frozen projector output, the vision tower is skipped
                out = BaseModelOutputWithPooling(pooler_output=list(cached))
            out.pooler_output = [
                self._append(f, c) for f, c in zip(out.pooler_output, self.concepts, strict=True)
            ]
            return out

        self.override(inner, features, "get_image_features")

    def _append(self, feats: torch.Tensor, concepts: list[torch.Tensor]) -> torch.Tensor:
        if not concepts:
            return feats
        return torch.cat([feats, concept_rows(feats, concepts, self.scale)], dim=0)


def concept_rows(feats: torch.Tensor, concepts: list[torch.Tensor], scale: float) -> torch.Tensor:
    """The ``(k, D)`` tokens of an image's concepts: each at the mean norm of the image's
    visual tokens ``feats`` (times ``scale``)."""
    if not concepts:
        return feats[:0]
    norm = feats.float().norm(dim=-1).mean() * scale
    return (torch.stack([normalise(c).to(feats.device) for c in concepts]) * norm).to(feats.dtype)


class LlavaSession(VlmSession):
    """``LlavaForConditionalGeneration`` (llava-1.5, llava-interleave-qwen, toy LLaVA)."""

    family = "llava"
    model_types = ("llava",)
    default_reg_lambda = (0.0075, 10.0)
    default_caption_prompt = "Please caption this image of {concepts}."
    default_plain_caption_prompt = "Please caption this image."

    @staticmethod
    def model_class() -> type:
        """The ``transformers`` class this backend loads."""
        from transformers import LlavaForConditionalGeneration

        return LlavaForConditionalGeneration

    @property
    def concept_dim(self) -> int:
        """The LM's embedding width (the projector's output width)."""
        return self.model.config.text_config.hidden_size

    def frozen_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The projector output, one row of visual tokens per image."""
        return projected_features(self.model, pixel_values)

    @contextmanager
    def injection(self, concepts, *, cached=None, record_attention=False):
        """See :class:`LlavaInjection` (attention comes from the forward call itself)."""
        with LlavaInjection(
            self.model, concepts, cached=cached, scale=self.settings.concept_scale
        ) as inj:
            yield inj

    def prompt_text(self, question: str | None, identifiers: Sequence[str]) -> str:
        """The caption instruction or ``question`` in the processor's format."""
        text = self.caption_instruction(identifiers) if question is None else question
        return instruction_prompt(self.processor, text)

    def place_concepts(self, ids: list[int], count: int) -> list[int]:
        """One more image placeholder per concept, right after the image's own."""
        return place_placeholders(ids, self.image_token_id, count)

    def training_loss(self, features, concepts, prompts, targets, with_regulariser):
        """LM cross-entropy; regulariser on the attention other tokens give the concept.

        The columns before the first concept token (the prompt's start and the image) do
        not depend on the concept: they run without gradients and only the rest (concept,
        prompt, target) runs with them, reading the start from the LM's cache. The loss and
        its gradient are those of the whole sequence in one pass; the backward pass skips
        the image's tokens (toy LLaVA: 2 of 3 of the sequence). Prompts whose images end at
        different columns run in one pass.
        """
        counts = [len(c) for c in concepts]
        rows = self.training_rows(prompts, targets, counts)
        ids, mask, labels = rows.input_ids, rows.attention_mask, rows.labels
        size = self._image_size()
        dummy = torch.zeros(len(targets), 3, size, size, device=self.device, dtype=self.dtype)
        p = self._frozen_columns(ids, counts)
        if p is None:
            p = 0
            with self.injection(concepts, cached=features):
                out = self.model(
                    input_ids=ids,
                    attention_mask=mask,
                    pixel_values=dummy,
                    labels=labels,
                    output_attentions=with_regulariser,
                )
        else:
            with torch.no_grad(), self.injection([[] for _ in concepts], cached=features):
                start = self.model.model(
                    input_ids=ids[:, :p],
                    attention_mask=mask[:, :p],
                    pixel_values=dummy,
                    use_cache=True,
                )
            tokens = [
                concept_rows(f, list(c), self.settings.concept_scale)
                for f, c in zip(features, concepts, strict=True)
            ]
            out = self.model(
                input_ids=ids[:, p:],
                attention_mask=mask,
                cache=start.cache,
                mm_encoder_outputs={"image": BaseModelOutputWithPooling(pooler_output=tokens)},
                labels=labels[:, p:],
                output_attentions=with_regulariser,
            )
        if not with_regulariser:
            return out.loss, torch.zeros(len(targets), device=self.device)
        return out.loss, self.regulariser(out.attentions, ids, mask, counts, first_query=p)

    def _frozen_columns(self, ids: torch.Tensor, counts: Sequence[int]) -> int | None:
        """The column where the first concept token (or, in a row without one, the text
        after the image) starts, if it is the same in every row (a prompt that puts the
        image first); else None."""
        ends = set()
        for row, k in zip(ids, counts, strict=True):
            img = (row == self.image_token_id).nonzero().flatten()
            ends.add(int(img[len(img) - k - 1]) + 1)
        return ends.pop() if len(ends) == 1 else None

    def regulariser(
        self,
        attentions,
        input_ids: torch.Tensor,
        mask: torch.Tensor,
        counts: Sequence[int],
        first_query: int = 0,
    ) -> torch.Tensor:
        """Per row: sum over LM layers of mean(P[q -> concept]^2) over heads and the
        non-padding tokens q after the concept (earlier ones cannot see it: causal).
        ``attentions`` hold the queries from column ``first_query`` on."""
        if attentions is None or attentions[0] is None:
            raise RuntimeError("the language model must use eager attention for the regulariser")
        b, t = input_ids.shape
        sel = torch.zeros(b, t, t, dtype=torch.bool, device=input_ids.device)
        for i, k in enumerate(counts):
            if k == 0:
                continue
            img_pos = (input_ids[i] == self.image_token_id).nonzero().flatten()
            for p in img_pos[-k:].tolist():
                sel[i, p + 1 :, p] = mask[i, p + 1 :].bool()
        weight = sel[:, first_query:].to(attentions[0].dtype)
        n = weight.sum(dim=(1, 2)).clamp_min(1)
        total = torch.zeros(b, device=input_ids.device, dtype=weight.dtype)
        for p in attentions:  # (B, H, T, T)
            total = total + (p**2 * weight[:, None]).sum(dim=(1, 2, 3)) / (n * p.shape[1])
        return total
