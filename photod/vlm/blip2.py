"""BLIP-2 backend: the concept token joins the vision encoder's output sequence.

Hook points (transformers 5.x ``Blip2ForConditionalGeneration``):
- ``vision_model.encoder`` forward hook: appends the concept slots, so they pass through
  ``post_layernorm`` like the image tokens (the reference appends before that norm);
- ``qformer`` forward pre-hook: replaces the all-ones ``encoder_attention_mask`` so that an
  image without a given concept slot never attends to it (per-image gating in a batch);
- ``crossattention.attention.key`` / ``.value`` forward hooks: rescale the concept positions
  to the mean norm of the image positions (MyVLM's key/value norm matching);
- ``crossattention.attention`` forward hook: keeps the query->concept attention
  probabilities for the regulariser (needs eager attention in the Q-Former);
- with ``concept_attention="separate"`` and several concept slots, the same module's
  ``forward`` is shadowed: each slot competes for a query's attention with the image tokens
  only, as it did when it was appended alone, and the slots' contributions add up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager

import torch
from transformers.modeling_outputs import BaseModelOutput

from photod.vlm.base import VlmSession
from photod.vlm.injection import HookSet, concept_slots


def cross_attention_modules(model) -> list[torch.nn.Module]:
    """The Q-Former's cross-attention modules (one per layer that has one)."""
    return [
        layer.crossattention.attention
        for layer in model.qformer.encoder.layer
        if getattr(layer, "has_cross_attention", False)
    ]


def encoder_features(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """The vision encoder output before ``post_layernorm`` (where concept tokens join)."""
    vision = model.vision_model
    return vision.encoder(inputs_embeds=vision.embeddings(pixel_values)).last_hidden_state


def _rescale_tail(out: torch.Tensor, k: int, scale: float = 1.0) -> torch.Tensor:
    """Give the last ``k`` vectors of each row the mean norm of the other vectors
    (times ``scale``)."""
    img, tail = out[:, :-k], out[:, -k:]
    target = img.norm(dim=-1).mean(dim=1, keepdim=True) * scale  # (B, 1)
    tail = tail * (target / tail.norm(dim=-1).clamp_min(1e-12)).unsqueeze(-1)
    return torch.cat([img, tail], dim=1)


class Blip2Injection(HookSet):
    """Open while the model runs: concept slots appended, masked, rescaled, recorded."""

    def __init__(
        self,
        model,
        concepts: Sequence[Sequence[torch.Tensor]],
        *,
        kv_norm_match: bool = True,
        kv_scale: float = 1.0,
        concept_attention: str = "joint",
        cached: torch.Tensor | None = None,
        record_attention: bool = False,
    ) -> None:
        super().__init__()
        if concept_attention not in ("joint", "separate"):
            raise ValueError(f"unknown concept_attention {concept_attention!r} (joint, separate)")
        self.model = model
        self.kv_scale = kv_scale
        vision = model.vision_model
        self.slots, self.slot_mask = concept_slots(concepts, vision.config.hidden_size)
        self.k = self.slots.shape[1]
        self.attention: list[torch.Tensor] = []
        if cached is not None:
            # Training reuses the frozen encoder output: skip the encoder, keep its hooks,
            # and skip the patch embedding of the placeholder image (nothing reads it).
            self.override(vision.embeddings, lambda *a, **kw: None)
            self.override(
                vision.encoder, lambda *a, **kw: BaseModelOutput(last_hidden_state=cached)
            )
        if self.k == 0:
            return  # only the cache override: the model runs as it is
        self.hook(vision.encoder.register_forward_hook(self._append))
        self.hook(model.qformer.register_forward_pre_hook(self._mask, with_kwargs=True))
        for att in cross_attention_modules(model):
            if kv_norm_match:
                self.hook(att.key.register_forward_hook(self._match_norm))
                self.hook(att.value.register_forward_hook(self._match_norm))
            if record_attention:
                self.hook(att.register_forward_hook(self._record))
            if concept_attention == "separate" and self.k > 1:
                self.override(att, self._separately(att.forward))

    def _append(self, module, args, output):
        hs = output.last_hidden_state
        slots = self.slots.to(hs.device, hs.dtype)
        return BaseModelOutput(last_hidden_state=torch.cat([hs, slots], dim=1))

    def _mask(self, module, args, kwargs):
        states = kwargs["encoder_hidden_states"]
        b, n = states.shape[0], states.shape[1] - self.k
        ones = torch.ones(b, n, dtype=torch.long, device=states.device)
        kwargs["encoder_attention_mask"] = torch.cat(
            [ones, self.slot_mask.to(states.device, torch.long)], dim=1
        )
        return args, kwargs

    def _separately(self, forward: Callable) -> Callable:
        """``forward`` of one cross-attention module, with every concept slot read as if it
        were the only one.

        In one softmax, two concept tokens that draw on the same queries compete for them,
        and the one with the larger logits takes most of the attention the other had when
        it was trained alone (toy BLIP-2: up to half of it), so its name is lost. Here each slot
        j is attended to with the image tokens only (output o_j), the image alone gives
        o_0, and the result is o_0 + sum_j (o_j - o_0): every slot shifts each query's
        output as it did alone. The probabilities add up the same way, so the regulariser
        sees each slot's own attention. Linear in the slots, so an image whose slot j is
        padding (switched off in o_j as in o_0) gets exactly nothing from it. Each slot is
        one token: a concept of several tokens (``tokens: n``) has each read alone, in
        training as in captioning.
        """

        def run(
            hidden_states,
            attention_mask=None,
            encoder_hidden_states=None,
            encoder_attention_mask=None,
            **kwargs,
        ):
            n = encoder_hidden_states.shape[1] - self.k
            dtype = hidden_states.dtype
            masks = self._slot_masks(n, dtype, hidden_states.device)
            alone = [
                forward(hidden_states, attention_mask, encoder_hidden_states, m, **kwargs)
                for m in masks
            ]
            (out0, probs0), rest = alone[0], alone[1:]
            out = out0 + sum(o - out0 for o, _ in rest)
            probs = None if probs0 is None else probs0 + sum(p - probs0 for _, p in rest)
            return out, probs

        return run

    def _slot_masks(self, n: int, dtype: torch.dtype, device) -> list[torch.Tensor]:
        """Additive ``(B, 1, 1, n + k)`` cross-attention masks: the image tokens alone, then
        the image tokens with each concept slot in turn (where the image has that slot)."""
        low = torch.finfo(dtype).min
        on = self.slot_mask.to(device)
        b = on.shape[0]
        image = torch.zeros(b, n, dtype=dtype, device=device)
        masks = []
        for j in range(-1, self.k):
            keep = torch.zeros_like(on)
            if j >= 0:
                keep[:, j] = on[:, j]
            slots = torch.where(keep, 0.0, low).to(dtype)
            masks.append(torch.cat([image, slots], dim=1)[:, None, None, :])
        return masks

    def _match_norm(self, module, args, output):
        return _rescale_tail(output, self.k, self.kv_scale)

    def _record(self, module, args, output):
        probs = output[1]
        if probs is None:
            raise RuntimeError("the Q-Former must use eager attention to expose probabilities")
        self.attention.append(probs[..., -self.k :])

    def regulariser(self) -> torch.Tensor:
        """Per image: sum over cross-attention layers of mean(P[query -> concept]^2) over
        heads, queries and the image's own concept slots (0 for an image with none)."""
        if not self.attention:
            return torch.zeros(self.slot_mask.shape[0])
        mask = self.slot_mask.to(self.attention[0].device, self.attention[0].dtype)
        total = torch.zeros(mask.shape[0], device=mask.device, dtype=mask.dtype)
        for p in self.attention:  # (B, H, Q, K)
            sq = (p**2 * mask[:, None, None, :]).sum(dim=(1, 2, 3))
            total = total + sq / (mask.sum(dim=1).clamp_min(1) * p.shape[1] * p.shape[2])
        return total


class Blip2Session(VlmSession):
    """``Blip2ForConditionalGeneration`` with a decoder-only (OPT) or encoder-decoder (T5) LM."""

    family = "blip2"
    model_types = ("blip-2",)
    default_reg_lambda = (0.04, 0.04)
    default_caption_prompt = ""  # the reference captions from an empty prompt
    default_plain_caption_prompt = ""

    @staticmethod
    def model_class() -> type:
        """The ``transformers`` class this backend loads."""
        from transformers import Blip2ForConditionalGeneration

        return Blip2ForConditionalGeneration

    @property
    def concept_dim(self) -> int:
        """The vision encoder's width (the token joins its output sequence)."""
        return self.model.config.vision_config.hidden_size

    @property
    def decoder_only(self) -> bool:
        """OPT-style LM (True) or T5-style encoder-decoder (False)."""
        return bool(self.model.config.use_decoder_only_language_model)

    def frozen_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The vision encoder output before ``post_layernorm`` (the hook point)."""
        return encoder_features(self.model, pixel_values)

    def image_patches(self, features: torch.Tensor) -> torch.Tensor:
        """Position 0 is the vision encoder's class token, the rest the patches."""
        return features[..., 1:, :]

    @contextmanager
    def injection(self, concepts, *, cached=None, record_attention=False):
        """See :class:`Blip2Injection`."""
        with Blip2Injection(
            self.model,
            concepts,
            kv_norm_match=self.settings.kv_norm_match,
            kv_scale=self.settings.concept_scale,
            concept_attention=self.settings.concept_attention,
            cached=cached,
            record_attention=record_attention,
        ) as inj:
            yield inj

    def prompt_text(self, question: str | None, identifiers: Sequence[str]) -> str:
        """Empty prompt (or the configured one) for captions, a QA template for questions."""
        if question is None:
            return self.caption_instruction(identifiers)
        tpl = self.settings.question_template or "Question: {} Answer:"
        return tpl.replace("{}", question)

    def new_tokens(self, ids: torch.Tensor, prompt_len: int) -> torch.Tensor:
        """An encoder-decoder LM returns only decoder tokens."""
        return ids[:, prompt_len:] if self.decoder_only else ids

    def training_loss(self, features, concepts, prompts, targets, with_regulariser):
        """LM cross-entropy with the concepts injected into cached encoder features."""
        if self.decoder_only:
            # BLIP-2 needs no extra placeholders in the prompt: counts are 0.
            rows = self.training_rows(prompts, targets, [0] * len(targets))
            batch = dict(
                input_ids=rows.input_ids, attention_mask=rows.attention_mask, labels=rows.labels
            )
        else:
            batch = self._seq2seq_rows(prompts, targets)
        size = self._image_size()
        dummy = torch.zeros(len(targets), 3, size, size, device=self.device, dtype=self.dtype)
        with self.injection(concepts, cached=features, record_attention=with_regulariser) as inj:
            out = self.model(pixel_values=dummy, **batch)
            reg = (
                inj.regulariser()
                if with_regulariser
                else torch.zeros(len(targets), device=self.device)
            )
        return out.loss, reg

    def _seq2seq_rows(self, prompts, targets) -> dict[str, torch.Tensor]:
        prefixes = [self.prefix_ids(p) for p in prompts]
        input_ids, mask = self.pad_left(prefixes)
        tgts = [self.target_ids(t) for t in targets]
        width = max(len(t) for t in tgts)
        labels = torch.tensor([t + [-100] * (width - len(t)) for t in tgts], device=self.device)
        return dict(input_ids=input_ids, attention_mask=mask, labels=labels)
