"""Base-model quality on the toy world: caption exact match and VQA answer accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image

from photod.vlm.llava import instruction_prompt
from photod_lab.toyworld.concepts import base_scene_generator
from photod_lab.toyworld.scenes import Scene
from photod_lab.toyworld.tokenizer import CAPTION_PROMPT

HELDOUT_SEED = 424242


def heldout_scenes(n: int, image_size: int = 64, seed: int = HELDOUT_SEED) -> list[Scene]:
    """A fixed held-out set of base-data scenes, drawn from a seed that training never uses."""
    return base_scene_generator(seed, image_size=image_size).batch(n)


def model_kind(model) -> str:
    """``blip2`` or ``llava`` from the model's config."""
    return "blip2" if "blip" in model.config.model_type else "llava"


def prompt_text(processor, kind: str, instruction: str | None) -> str:
    """The text given to the processor: BLIP-2 captions from an empty prompt, LLaVA gets its
    processor's prompt format, exactly as photod's LLaVA backend builds it."""
    if kind == "blip2":
        return instruction or ""
    return instruction_prompt(processor, instruction or CAPTION_PROMPT)


@torch.no_grad()
def generate_texts(
    model,
    processor,
    images: Sequence[Image.Image],
    texts: Sequence[str],
    batch_size: int = 64,
    max_new_tokens: int = 16,
) -> list[str]:
    """Greedy (deterministic) generation for each (image, prompt text) pair, prompt stripped."""
    out: list[str] = []
    model.eval()
    for i in range(0, len(images), batch_size):
        chunk = [im.convert("RGB") for im in images[i : i + batch_size]]
        enc = processor(
            images=chunk, text=list(texts[i : i + batch_size]), return_tensors="pt", padding=True
        )
        enc = enc.to(next(model.parameters()).device)
        ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
        # generate() returns the prompt followed by the new tokens.
        new = ids[:, enc["input_ids"].shape[1] :]
        out.extend(
            s.strip() for s in processor.tokenizer.batch_decode(new, skip_special_tokens=True)
        )
    return out


def generate(
    model,
    processor,
    images: Sequence[Image.Image],
    instructions: Sequence[str | None] | None = None,
    batch_size: int = 64,
    max_new_tokens: int = 16,
) -> list[str]:
    """Greedy generation for each image (optionally with an instruction/question per image)."""
    kind = model_kind(model)
    texts = [prompt_text(processor, kind, q) for q in (instructions or [None] * len(images))]
    return generate_texts(model, processor, images, texts, batch_size, max_new_tokens)


def caption_exact_match(model, processor, scenes: Sequence[Scene]) -> float:
    """Share of scenes whose greedy caption equals the canonical caption."""
    caps = generate(model, processor, [s.image() for s in scenes])
    return sum(c == s.caption() for c, s in zip(caps, scenes, strict=False)) / max(1, len(scenes))


def question_kind(question: str, n_objects: int) -> str:
    """The breakdown a VQA answer is counted under: ``count``, ``colour/2``, ``where/3``..."""
    first = question.split()[0]
    if first == "how":
        return "count"
    return f"{'colour' if first == 'what' else 'where'}/{n_objects}"


def vqa_results(model, processor, scenes: Sequence[Scene]) -> list[tuple[str, bool]]:
    """(question kind, answered exactly) for every question/answer pair of every scene."""
    images, questions, answers, kinds = [], [], [], []
    for s in scenes:
        img = s.image()
        for q, a in s.qa:
            images.append(img)
            questions.append(q)
            answers.append(a)
            kinds.append(question_kind(q, len(s.objects)))
    preds = generate(model, processor, images, questions, max_new_tokens=4)
    return [(k, p == a) for k, p, a in zip(kinds, preds, answers, strict=True)]


def share_correct(results: Sequence[tuple[str, bool]]) -> float:
    """Share of :func:`vqa_results` answered exactly."""
    return sum(ok for _, ok in results) / max(1, len(results))


def vqa_accuracy(model, processor, scenes: Sequence[Scene]) -> float:
    """Share of question/answer pairs answered exactly (all pairs of every scene)."""
    return share_correct(vqa_results(model, processor, scenes))


def accuracy_by_kind(results: Sequence[tuple[str, bool]]) -> dict[str, float]:
    """Accuracy per question kind (see :func:`question_kind`)."""
    groups: dict[str, list[bool]] = {}
    for kind, ok in results:
        groups.setdefault(kind, []).append(ok)
    return {k: sum(v) / len(v) for k, v in sorted(groups.items())}
