"""The configured VLMs of one photod process: lazy sessions, fired concepts, captions + VQA.

Shared by the personalize stage, the ``caption``/``ask`` commands and concept training, so a
model is loaded at most once per process, on first use, and freed when idle if configured.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from photod.config import VlmConfig, VlmModelConfig
from photod.errors import ConfigError
from photod.index import Index
from photod.vlm.base import SessionSettings, VlmSession
from photod.vlm.embeddings import load_embedding
from photod.vlm.registry import load_session
from photod.vlm.training import TrainSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FiredConcept:
    """A concept whose head fired, with its embedding for one VLM."""

    concept_id: int
    name: str
    identifier: str
    version: int
    embedding: torch.Tensor


@dataclass
class Description:
    """What one VLM said about one photo."""

    caption: str | None
    answers: list[tuple[str, str]]
    concept_versions: dict[str, int]


def concept_dir(data_dir: Path, concept_id: int, version: int) -> Path:
    """The concept store's folder of one version (``<data_dir>/concepts/<id>/v<N>``)."""
    return Path(data_dir) / "concepts" / str(concept_id) / f"v{version}"


class VlmRuntime:
    """Every configured VLM, each loaded on first use."""

    def __init__(
        self,
        cfg: VlmConfig,
        backends: Sequence[type],
        cache_dir: Path | None,
        loader=load_session,
        *,
        offline: bool = False,
    ) -> None:
        self.cfg = cfg
        self.offline = offline
        self.backends = list(backends)
        self.cache_dir = cache_dir
        self._loader = loader
        self._sessions: dict[str, VlmSession] = {}
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def model_ids(self) -> list[str]:
        """The configured VLM ids, in config order."""
        return [m.id for m in self.cfg.models]

    def model_config(self, model_id: str) -> VlmModelConfig:
        """The config of one VLM."""
        for m in self.cfg.models:
            if m.id == model_id:
                return m
        raise ConfigError(
            f"vlm: no model with id {model_id!r} (configured: "
            f"{', '.join(self.model_ids) or 'none'})"
        )

    def session(self, model_id: str) -> VlmSession:
        """The loaded session (loads it on first use)."""
        with self._lock:
            self._unload_idle()
            if model_id not in self._sessions:
                m = self.model_config(model_id)
                settings = SessionSettings(
                    caption_prompt=m.caption_prompt,
                    plain_caption_prompt=m.plain_caption_prompt,
                    question_template=m.question_template,
                    max_new_tokens=self.cfg.max_new_tokens,
                    batch_size=self.cfg.batch_size,
                    kv_norm_match=m.training.kv_norm_match,
                    concept_scale=m.training.concept_scale,
                    concept_attention=m.training.concept_attention,
                )
                self._sessions[model_id] = self._loader(
                    m.model,
                    self.backends,
                    model_id=m.id,
                    cache_dir=self.cache_dir,
                    device=self.cfg.device,
                    dtype=self.cfg.dtype,
                    backend=m.backend,
                    settings=settings,
                    offline=self.offline,
                )
            self._used[model_id] = time.monotonic()
            return self._sessions[model_id]

    def _unload_idle(self) -> None:
        ttl = self.cfg.idle_unload_seconds
        if not ttl:
            return
        now = time.monotonic()
        for mid in [k for k, t in self._used.items() if now - t > ttl]:
            log.info("unloading idle VLM %s", mid)
            self._sessions.pop(mid, None)
            self._used.pop(mid, None)

    def training_settings(self, model_id: str) -> TrainSettings:
        """The configured training hyperparameters of one VLM."""
        t = self.model_config(model_id).training
        return TrainSettings(**t.model_dump(exclude={"vqa"}))

    def describe(
        self,
        model_id: str,
        image: Image.Image,
        fired: Sequence[FiredConcept],
        questions: Sequence[str] | None = None,
    ) -> Description:
        """Caption (None when nothing fired and plain captions are off) and, per fired
        concept, the configured questions; all in one batched ``generate``."""
        questions = self.cfg.questions if questions is None else questions
        concepts = [(c.identifier, c.embedding) for c in fired]
        prompts: list[str | None] = []
        if fired or self.cfg.plain_captions:
            prompts.append(None)
        asked = [q.replace("{concept}", c.identifier) for c in fired for q in questions]
        prompts += asked
        if not prompts:
            return Description(None, [], {})
        texts = self.session(model_id).generate(
            [image] * len(prompts), prompts, [concepts] * len(prompts)
        )
        caption = texts.pop(0) if prompts[0] is None else None
        return Description(
            caption, list(zip(asked, texts, strict=True)), {c.name: c.version for c in fired}
        )

    def close(self) -> None:
        """Drop every loaded model."""
        with self._lock:
            self._sessions.clear()
            self._used.clear()


def other_embeddings(
    index: Index, data_dir: Path, vlm_id: str, concept_id: int
) -> list[torch.Tensor]:
    """The active embeddings on ``vlm_id`` of every trained concept but ``concept_id``
    (ascending id): the distractors a new embedding learns to win its object against."""
    rows = index.concepts.trained_versions(exclude=concept_id)
    found = [load_embedding(concept_dir(data_dir, cid, version), vlm_id) for cid, version in rows]
    return [f[0] for f in found if f is not None]


def fired_concepts(
    index: Index, data_dir: Path, detections: Sequence, vlm_id: str
) -> list[FiredConcept]:
    """The detections' concepts (one per concept id, ascending id: a deterministic order)
    that have an embedding for ``vlm_id`` in the detected version."""
    versions: dict[int, int] = {}
    for d in detections:
        versions.setdefault(d.concept_id, d.concept_version)
    out = []
    for cid in sorted(versions):
        row = index.concepts.names(cid)
        if row is None:
            continue
        found = load_embedding(concept_dir(data_dir, cid, versions[cid]), vlm_id)
        if found is None:
            log.debug("concept %s v%d has no embedding for %s", row[0], versions[cid], vlm_id)
            continue
        out.append(FiredConcept(cid, row[0], row[1], versions[cid], found[0]))
    return out
