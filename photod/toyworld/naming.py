"""A training aid for the toy LLaVA: name an object from a token appended after the image.

MyVLM appends a learnt concept token after the visual tokens and relies on the LM to use it
the way a billion-parameter LM does: as "this object, which you can see, is called Rex", so
the caption keeps the scene and only renames the object. A toy LM trained on canonical
captions never met an appended token. With one it said the name *and* kept describing what
it saw ("ivy above a green person" for ivy above a white triangle: six sessions of engine
measurements in docs/personalization.md), the way the "where" answers stayed at chance until
:mod:`photod.toyworld.asked` gave the LM a foothold.

This aid teaches that skill on ordinary objects, never on the concepts' looks or with a
concept's name tied to its look. In some samples, one or two objects lose their phrase to a
random name from :data:`~photod.toyworld.scenes.NAMES`; the name comes from a token appended
after the image exactly as photod's engine appends a concept token (same placeholder, same
rescaling: :class:`photod.vlm.llava.LlavaInjection`). The token is what a learnt concept
embedding could be: the object's look plus the name's word embedding, where the look is the
mean projector output over the object's patches in *another* rendering of the same look
(another place, size and background), so the token says what the object looks like and not
where it is. Questions about a named object use its name ("where is luna ?").

Unlike the probes, this aid leaves nothing behind but the model: it adds no parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from photod.toyworld.dense import patch_labels
from photod.toyworld.metrics import prompt_text
from photod.toyworld.scenes import NAMES, Scene, scene_from_items
from photod.vlm.llava import LlavaInjection, place_placeholders

#: The names an appended token may carry: every name the base LM already says.
NAME_POOL: tuple[str, ...] = tuple(NAMES.values())


@dataclass(frozen=True)
class Naming:
    """Objects of one sample named by appended tokens, in token order (may be empty)."""

    objects: tuple[int, ...] = ()
    names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.objects)


def _outlined(scene: Scene, i: int) -> bool:
    return any(d.kind == "outline" for d in scene.objects[i].spec.decorations)


def pick_namings(
    scenes: Sequence[Scene], rng: np.random.Generator, share: float, two_share: float = 0.3
) -> list[Naming]:
    """With probability ``share`` per scene, name one of its plain (not outlined) objects,
    or two with probability ``two_share`` when it has two; names are distinct and not
    already in the caption."""
    namings = []
    for s in scenes:
        plain = [i for i in range(len(s.objects)) if not _outlined(s, i)]
        if not plain or rng.random() >= share:
            namings.append(Naming())
            continue
        k = 2 if len(plain) >= 2 and rng.random() < two_share else 1
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


@torch.no_grad()
def object_looks(
    model, processor, refs: Sequence[Scene], image_size: int, patch_size: int
) -> torch.Tensor:
    """Per single-object scene: the mean projector output over the object's patches
    (all patches if the object covers no patch centre)."""
    pixels = processor.image_processor([r.image() for r in refs], return_tensors="pt")
    device = next(model.parameters()).device
    out = model.model.get_image_features(
        pixel_values=pixels["pixel_values"].to(device), return_dict=True
    )
    feats = torch.stack(list(out.pooler_output)).float()
    mask = (patch_labels(refs, image_size, patch_size)["shape"] != 0).to(device)
    mask[mask.sum(1) == 0] = True
    mask = mask.float().unsqueeze(-1)
    return (feats * mask).sum(1) / mask.sum(1)


def name_tokens(model, processor, looks: torch.Tensor, names: Sequence[str]) -> list[torch.Tensor]:
    """One token per named object: its look plus its name's word embedding, each at unit
    norm (the injection rescales the sum to the image's token norm)."""
    ids = processor.tokenizer.convert_tokens_to_ids(list(names))
    words = model.get_input_embeddings().weight[ids].detach().float()
    return list(F.normalize(F.normalize(looks, dim=-1) + F.normalize(words, dim=-1), dim=-1))


def token_batch(model, processor, scenes, namings, rng, image_size, patch_size):
    """The appended tokens of a batch: one list per sample (empty when nothing is named)."""
    refs, owners = [], []
    for b, (scene, naming) in enumerate(zip(scenes, namings, strict=True)):
        for ref in reference_scenes(scene, naming, rng, image_size):
            refs.append(ref)
            owners.append(b)
    tokens: list[list[torch.Tensor]] = [[] for _ in scenes]
    if not refs:
        return tokens
    looks = object_looks(model, processor, refs, image_size, patch_size)
    names = [n for naming in namings for n in naming.names]
    for b, tok in zip(owners, name_tokens(model, processor, looks, names), strict=True):
        tokens[b].append(tok)
    return tokens


@torch.no_grad()
def named_caption_exact_match(
    model, processor, scenes: Sequence[Scene], image_size: int, patch_size: int, seed: int = 0
) -> float:
    """Share of ``scenes`` (each with one or two objects named by appended tokens) whose
    greedy caption is the named caption exactly."""
    rng = np.random.default_rng(seed)
    namings = pick_namings(scenes, rng, share=1.0)
    keep = [i for i, n in enumerate(namings) if n]
    scenes, namings = [scenes[i] for i in keep], [namings[i] for i in keep]
    model.eval()
    tokens = token_batch(model, processor, scenes, namings, rng, image_size, patch_size)
    tok = processor.tokenizer
    image_id = tok.convert_tokens_to_ids(processor.image_token)
    prompt = prompt_text(processor, "llava", None)
    enc = processor(
        images=[s.image() for s in scenes], text=[prompt] * len(scenes), return_tensors="pt"
    )
    rows = [
        place_placeholders(ids.tolist(), image_id, len(n))
        for ids, n in zip(enc["input_ids"], namings, strict=True)
    ]
    width = max(len(r) for r in rows)
    device = next(model.parameters()).device
    input_ids = torch.tensor([[tok.pad_token_id] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    with LlavaInjection(model, tokens):
        out = model.generate(
            input_ids=input_ids.to(device),
            attention_mask=mask.to(device),
            pixel_values=enc["pixel_values"].to(device),
            max_new_tokens=16,
            do_sample=False,
        )
    texts = tok.batch_decode(out[:, width:], skip_special_tokens=True)
    wanted = [named_pick(s, n, (None, ""))[1] for s, n in zip(scenes, namings, strict=True)]
    return sum(t.strip() == w for t, w in zip(texts, wanted, strict=True)) / max(1, len(scenes))
