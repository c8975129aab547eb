"""A training aid for the toy VLMs: name an object from a token appended to the image.

MyVLM appends a learnt concept token after the visual tokens and relies on the LM to use it
the way a billion-parameter LM does: as "this object, which you can see, is called Rex", so
the caption keeps the scene and only renames the object. A toy LM trained on canonical
captions never met an appended token. With one it said the name *and* kept describing what
it saw ("ivy above a green person" for ivy above a white triangle: the engine measurements
of 2026-11-22 to 2026-12-01 in docs/research/2026-personalization.md), the way the
"where" answers stayed at chance until :mod:`photod_lab.toyworld.asked` gave the LM a foothold.

This aid teaches that skill on ordinary objects, never on the concepts' looks or with a
concept's name tied to its look. In some samples, one or two objects lose their phrase to a
random name from :data:`~photod_lab.toyworld.scenes.NAMES`; the name comes from a token appended
to the image exactly where and how photod's engine appends a concept token
(:class:`photod.vlm.llava.LlavaInjection` after LLaVA's projector, one more placeholder per
token; :class:`photod.vlm.blip2.Blip2Injection` after BLIP-2's vision encoder, with
key/value norm matching at 1x). The token is what a learnt concept embedding could be: the
object's look plus a code for the name. The look is the mean hook-point output over the
object's patches in *another* rendering of the same look (another place, size and
background), so the token says what the object looks like and not where it is. The name's
code is its word embedding for LLaVA (the token lives in the LM's input space) and a learnt
vector per name for BLIP-2 (its token lives in the vision encoder's space, where words have
no embedding); those vectors are saved beside the model for continuations
(:data:`CODES_FILE`), never used by photod. Questions about a named object
use its name ("where is luna ?").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from photod.vlm.blip2 import Blip2Injection, encoder_features
from photod.vlm.llava import LlavaInjection, place_placeholders, projected_features
from photod_lab.toyworld.dense import patch_labels
from photod_lab.toyworld.metrics import model_kind, prompt_text
from photod_lab.toyworld.scenes import NAMES, Scene, scene_from_items

#: The names an appended token may carry: every name the base LM already says.
NAME_POOL: tuple[str, ...] = tuple(NAMES.values())
#: BLIP-2's learnt name codes, saved beside the model so that a continuation keeps them.
CODES_FILE = "naming_codes.safetensors"


@dataclass(frozen=True)
class Naming:
    """Objects of one sample named by appended tokens, in token order (may be empty)."""

    objects: tuple[int, ...] = ()
    names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.objects)


def pick_namings(
    scenes: Sequence[Scene],
    rng: np.random.Generator,
    share: float,
    two_share: float = 0.3,
    three_share: float = 0.0,
) -> list[Naming]:
    """With probability ``share`` per scene, name one of its plain (not outlined) objects;
    a named scene names three with probability ``three_share`` when it has three, else two
    with probability ``two_share`` (plus ``three_share`` when it has only two). Names are
    distinct and not already in the caption."""
    namings = []
    for s in scenes:
        plain = [i for i, o in enumerate(s.objects) if not o.outlined]
        if not plain or rng.random() >= share:
            namings.append(Naming())
            continue
        k = 1
        if len(plain) >= 2:  # one draw, as before three names existed: old runs replay
            r = rng.random()
            if len(plain) >= 3 and r < three_share:
                k = 3
            elif r < three_share + two_share:
                k = 2
        objects = tuple(int(i) for i in rng.choice(plain, size=k, replace=False))
        taken = {o.phrase for o in s.objects}
        pool = [n for n in NAME_POOL if n not in taken]
        names = tuple(str(n) for n in rng.choice(pool, size=k, replace=False))
        namings.append(Naming(objects, names))
    return namings


def named_pick(
    scene: Scene, naming: Naming, pick: tuple[str | None, str]
) -> tuple[str | None, str]:
    """The (question, target) of a sample once ``naming`` applies: the caption says the
    names, and a question about a named object asks about it by name."""
    if not naming:
        return pick
    question, target = pick
    if question is None:
        return None, scene.caption(dict(zip(naming.objects, naming.names, strict=True)))
    for i, name in zip(naming.objects, naming.names, strict=True):
        question = question.replace(f"the {scene.objects[i].spec.shape} ", f"{name} ")
    return question, target


def reference_scenes(
    scene: Scene, naming: Naming, rng: np.random.Generator, image_size: int
) -> list[Scene]:
    """One single-object scene per named object: the same look, elsewhere and resized."""
    refs = []
    for i in naming.objects:
        spec = scene.objects[i].spec
        item = (spec.shape, spec.colour, spec.decorations, scene.objects[i].phrase, None)
        refs.append(scene_from_items(rng, [item], image_size, layout="single"))
    return refs


class NamingAid:
    """Builds the appended name tokens of a batch and the injection that appends them."""

    def __init__(self, model, processor, image_size: int, patch_size: int) -> None:
        self.model, self.processor = model, processor
        self.kind = model_kind(model)
        self.image_size, self.patch_size = image_size, patch_size
        # BLIP-2's tokens live in the vision encoder's width, where words have no embedding.
        self.codes = (
            nn.Embedding(len(NAME_POOL), model.config.vision_config.hidden_size).to(self.device)
            if self.kind == "blip2"
            else None
        )

    def parameters(self) -> list[nn.Parameter]:
        """What the aid itself learns (BLIP-2's name codes; nothing for LLaVA)."""
        return [] if self.codes is None else list(self.codes.parameters())

    def save_codes(self, folder: Path) -> None:
        """Write BLIP-2's name codes into ``folder`` (LLaVA's are its word embeddings)."""
        if self.codes is not None:
            save_file({"codes": self.codes.weight.detach().cpu()}, str(folder / CODES_FILE))

    def load_codes(self, folder: Path) -> bool:
        """Take the name codes a previous run saved in ``folder``; False if it saved none
        (LLaVA, or a model trained before the codes were kept: they are learnt anew)."""
        path = folder / CODES_FILE
        if self.codes is None or not path.exists():
            return False
        with torch.no_grad():
            self.codes.weight.copy_(load_file(str(path))["codes"].to(self.device))
        return True

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def looks(self, refs: Sequence[Scene]) -> torch.Tensor:
        """Per single-object scene: the mean hook-point output over the object's patches
        (all patches if the object covers no patch centre)."""
        pixels = self.processor.image_processor([r.image() for r in refs], return_tensors="pt")
        pixels = pixels["pixel_values"].to(self.device)
        if self.kind == "llava":
            feats = projected_features(self.model, pixels)
        else:  # without the class token
            feats = encoder_features(self.model, pixels)[:, 1:]
        mask = patch_labels(refs, self.image_size, self.patch_size)["shape"] != 0
        mask = mask.to(self.device)
        mask[mask.sum(1) == 0] = True
        weights = mask.float().unsqueeze(-1)
        return (feats.float() * weights).sum(1) / weights.sum(1)

    def name_codes(self, names: Sequence[str]) -> torch.Tensor:
        """The name part of each token: LLaVA's word embedding, BLIP-2's learnt code."""
        if self.codes is None:
            ids = self.processor.tokenizer.convert_tokens_to_ids(list(names))
            return self.model.get_input_embeddings().weight[ids].detach().float()
        idx = torch.tensor([NAME_POOL.index(n) for n in names], device=self.device)
        return self.codes(idx)

    def tokens(
        self, scenes: Sequence[Scene], namings: Sequence[Naming], rng: np.random.Generator
    ) -> list[list[torch.Tensor]]:
        """One list per sample (empty when nothing is named): per named object, its look
        plus its name's code, each at unit norm (the injection sets the final norm)."""
        refs, owners = [], []
        for b, (scene, naming) in enumerate(zip(scenes, namings, strict=True)):
            for ref in reference_scenes(scene, naming, rng, self.image_size):
                refs.append(ref)
                owners.append(b)
        out: list[list[torch.Tensor]] = [[] for _ in scenes]
        if not refs:
            return out
        looks = F.normalize(self.looks(refs), dim=-1)
        codes = F.normalize(self.name_codes([n for m in namings for n in m.names]), dim=-1)
        for b, tok in zip(owners, F.normalize(looks + codes, dim=-1), strict=True):
            out[b].append(tok)
        return out

    def injection(self, tokens: Sequence[Sequence[torch.Tensor]]):
        """The engine's own injection of ``tokens`` (MyVLM as published: 1x norms)."""
        if self.kind == "llava":
            return LlavaInjection(self.model, tokens)
        return Blip2Injection(self.model, tokens, kv_norm_match=True)

    def placeholders(self, namings: Sequence[Naming]) -> list[int]:
        """Extra image placeholders per sample: one per LLaVA token, none for BLIP-2."""
        return [len(n) if self.kind == "llava" else 0 for n in namings]

    @torch.no_grad()
    def caption_exact_match(
        self, scenes: Sequence[Scene], seed: int = 0, *, three: bool = False
    ) -> float:
        """Share of ``scenes`` (each with one or two objects named by appended tokens; with
        ``three``, only the scenes of three objects, all named) whose greedy caption is the
        named caption exactly."""
        rng = np.random.default_rng(seed)
        if three:
            namings = pick_namings(scenes, rng, share=1.0, two_share=0.0, three_share=1.0)
        else:
            namings = pick_namings(scenes, rng, share=1.0)
        keep = [i for i, n in enumerate(namings) if (len(n) == 3 if three else n)]
        scenes, namings = [scenes[i] for i in keep], [namings[i] for i in keep]
        training = self.model.training
        self.model.eval()
        tokens = self.tokens(scenes, namings, rng)
        tok = self.processor.tokenizer
        prompt = prompt_text(self.processor, self.kind, None)
        enc = self.processor(
            images=[s.image() for s in scenes], text=[prompt] * len(scenes), return_tensors="pt"
        )
        image_id = tok.convert_tokens_to_ids("<image>")
        rows = [
            place_placeholders(ids.tolist(), image_id, k)
            for ids, k in zip(enc["input_ids"], self.placeholders(namings), strict=True)
        ]
        width = max(len(r) for r in rows)
        input_ids = torch.tensor([[tok.pad_token_id] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        with self.injection(tokens):
            out = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=mask.to(self.device),
                pixel_values=enc["pixel_values"].to(self.device),
                max_new_tokens=16,
                do_sample=False,
            )
        self.model.train(training)
        texts = tok.batch_decode(out[:, width:], skip_special_tokens=True)
        wanted = [named_pick(s, n, (None, ""))[1] for s, n in zip(scenes, namings, strict=True)]
        return sum(t.strip() == w for t, w in zip(texts, wanted, strict=True)) / len(scenes)
