"""Concept embeddings on disk: one safetensors file per (concept version, VLM).

The concept store owns the concept's folder (one folder per version); this module only
reads and writes ``<concept_dir>/vlm/<vlm id>.safetensors`` inside it, atomically, with the
training metadata (as JSON in the safetensors header), so the embedding is versioned with
the concept's other artifacts.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

SUBDIR = "vlm"


def embedding_path(concept_dir: Path, vlm_id: str) -> Path:
    """Where the embedding of ``vlm_id`` lives (the id made file-name safe)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", vlm_id).strip("._") or "vlm"
    return Path(concept_dir) / SUBDIR / f"{slug}.safetensors"


def save_embedding(
    concept_dir: Path, vlm_id: str, tensor: torch.Tensor, meta: dict[str, Any] | None = None
) -> Path:
    """Write the embedding (``(tokens, D)`` or ``(D,)``) and ``meta`` (JSON-serialisable)."""
    path = embedding_path(concept_dir, vlm_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    header = {"vlm_id": vlm_id, "meta": json.dumps(meta or {}, sort_keys=True, default=str)}
    save_file(
        {"embedding": tensor.detach().float().reshape(-1, tensor.shape[-1]).cpu().contiguous()},
        str(tmp),
        metadata=header,
    )
    os.replace(tmp, path)  # readers never see a half-written file
    return path


def load_embedding(concept_dir: Path, vlm_id: str) -> tuple[torch.Tensor, dict[str, Any]] | None:
    """``(tensor (1, D), meta)`` or ``None`` when this concept has none for ``vlm_id``."""
    path = embedding_path(concept_dir, vlm_id)
    if not path.exists():
        return None
    with safe_open(str(path), framework="pt") as f:
        tensor = f.get_tensor("embedding")
        header = f.metadata() or {}
    if header.get("vlm_id") != vlm_id:  # two ids mapped to one file name
        return None
    return tensor, json.loads(header.get("meta", "{}"))


def list_embeddings(concept_dir: Path) -> list[str]:
    """The VLM ids this concept has embeddings for."""
    folder = Path(concept_dir) / SUBDIR
    out = []
    for p in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
        with safe_open(str(p), framework="pt") as f:
            out.append((f.metadata() or {}).get("vlm_id", p.stem))
    return out
