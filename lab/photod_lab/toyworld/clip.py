"""A tiny open_clip model for the toy world, trained contrastively on toy scenes.

It is saved in open_clip's ``local-dir:`` layout (``open_clip_config.json``,
``open_clip_model.safetensors`` and the word-level HF tokenizer), so it loads through the
same calls photod uses for a real CLIP: ``open_clip.create_model_and_transforms("local-dir:X")``
and ``open_clip.get_tokenizer("local-dir:X")``.

Real CLIPs have seen dotted, striped and hatted things; so that the toy CLIP's features also
notice such details (the concept heads need them), its training scenes decorate some objects
and say so in the text ("a yellow star with purple tips"). The VLMs never see decorations.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from photod_lab.toyworld.models import IMAGE_MEAN, IMAGE_STD
from photod_lab.toyworld.render import Decoration
from photod_lab.toyworld.scenes import BASE_COLOURS, Scene, ordinary_items, scene_from_items
from photod_lab.toyworld.tokenizer import build_tokenizer

log = logging.getLogger(__name__)
DECORATION_WORDS = {
    "dot": "dot",
    "tips": "tips",
    "stripes": "stripes",
    "checker": "checks",
    "ring": "ring",
    "hat": "hat",
    "belly": "belly",
}


def clip_config(vocab_size: int, image_size: int = 64) -> dict:
    """open_clip ``model_cfg`` of the toy CLIP (causal text tower pooled at ``</s>``)."""
    return {
        "embed_dim": 64,
        "vision_cfg": {
            "image_size": image_size,
            "layers": 3,
            "width": 96,
            "head_width": 32,
            "patch_size": 8,
            "mlp_ratio": 2.0,
        },
        "text_cfg": {
            "context_length": 24,
            "vocab_size": vocab_size,
            "width": 96,
            "heads": 4,
            "layers": 2,
            "mlp_ratio": 2.0,
            "pad_id": 0,
            "eos_id": 3,
            "pool_type": "eos",
            "hf_tokenizer_name": "toy-word-level",
        },
    }


def clip_scene(rng: np.random.Generator, image_size: int, max_objects: int = 3) -> Scene:
    """A base scene in which some plain objects carry a described decoration."""
    n = int(rng.integers(1, max_objects + 1))
    items = []
    for shape, colour, decos, phrase, concept in ordinary_items(rng, n, named_prob=0.25):
        if not decos and rng.random() < 0.4:
            kind = str(rng.choice(list(DECORATION_WORDS)))
            dcol = str(rng.choice([c for c in (*BASE_COLOURS, "black") if c != colour]))
            decos = (Decoration(kind, dcol),)
            phrase = f"{phrase} with {dcol} {DECORATION_WORDS[kind]}"
        items.append((shape, colour, decos, phrase, concept))
    return scene_from_items(rng, items, image_size)


def build_clip(image_size: int = 64, seed: int = 0) -> tuple[open_clip.CLIP, dict]:
    """A randomly initialised toy CLIP and its config (no download)."""
    cfg = clip_config(len(build_tokenizer()), image_size)
    torch.manual_seed(seed)
    return open_clip.CLIP(**cfg), cfg


def contrastive_loss(
    model: open_clip.CLIP, images: torch.Tensor, tokens: torch.Tensor, texts: list[str]
) -> torch.Tensor:
    """Symmetric InfoNCE where identical texts in a batch all count as positives."""
    img = F.normalize(model.encode_image(images), dim=-1)
    txt = F.normalize(model.encode_text(tokens), dim=-1)
    logits = model.logit_scale.exp() * img @ txt.T
    same = torch.tensor([[a == b for b in texts] for a in texts], dtype=torch.float32)
    target = same / same.sum(dim=1, keepdim=True)
    return 0.5 * (
        torch.sum(-target * F.log_softmax(logits, 1), 1).mean()
        + torch.sum(-target * F.log_softmax(logits.T, 1), 1).mean()
    )


def to_tensor(images) -> torch.Tensor:
    """PIL images -> normalised tensor (the same mean/std as the saved preprocess config)."""
    arr = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0 for im in images])
    t = torch.from_numpy(arr).permute(0, 3, 1, 2)
    mean = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
    return (t - mean) / std


def save_clip(model: open_clip.CLIP, cfg: dict, out: Path, manifest: dict) -> None:
    """Write the ``local-dir:`` layout plus ``manifest.json``."""
    out.mkdir(parents=True, exist_ok=True)
    preprocess = {
        "size": cfg["vision_cfg"]["image_size"],
        "mean": IMAGE_MEAN,
        "std": IMAGE_STD,
        "interpolation": "bicubic",
        "resize_mode": "shortest",
    }
    (out / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": cfg, "preprocess_cfg": preprocess}, indent=2)
    )
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        str(out / "open_clip_model.safetensors"),
    )
    build_tokenizer(padding_side="right", append_eos=True).save_pretrained(out)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def load_clip(path: str | Path):
    """``(model, preprocess, tokenizer)`` through open_clip's own ``local-dir:`` loading."""
    ref = f"local-dir:{Path(path).resolve()}"
    model, _, preprocess = open_clip.create_model_and_transforms(ref)
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(ref)
