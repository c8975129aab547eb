"""The configured VLMs of one photod process: lazy sessions, fired concepts, captions + VQA.

Shared by the personalize stage, the ``caption``/``ask`` commands and concept training, so a
model is loaded at most once per process, on first use, and freed when idle if configured.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from photod.config import VlmConfig, VlmModelConfig, VlmTrainingConfig
from photod.errors import ConfigError
from photod.models.session import HubFiles, ModelSession, parameter_bytes
from photod.vlm.base import SessionSettings, VlmSession
from photod.vlm.registry import load_session

log = logging.getLogger(__name__)


class FiredConcept(Protocol):
    """A concept whose head fired on the photo (see the concept catalog's ``fired``)."""

    name: str
    identifier: str
    version: int
    embedding: Any  # a torch tensor (1, D)


@dataclass
class Description:
    """What one VLM said about one photo."""

    caption: str | None
    answers: list[tuple[str, str]]
    concept_versions: dict[str, int]


class VlmModel(ModelSession[VlmSession]):
    """One configured VLM behind the model-session layer (loaded on first use)."""

    def __init__(self, runtime: VlmRuntime, cfg: VlmModelConfig) -> None:
        super().__init__(
            f"vlm {cfg.id}",
            idle_unload_seconds=runtime.cfg.idle_unload_seconds,
            files=_hub_files(cfg.model, runtime.cache_dir),
        )
        self._runtime = runtime
        self.cfg = cfg

    def _load(self) -> VlmSession:
        m, vlm = self.cfg, self._runtime.cfg
        settings = SessionSettings(
            caption_prompt=m.caption_prompt,
            plain_caption_prompt=m.plain_caption_prompt,
            question_template=m.question_template,
            max_new_tokens=vlm.max_new_tokens,
            batch_size=vlm.batch_size,
            kv_norm_match=m.training.kv_norm_match,
            concept_scale=m.training.concept_scale,
            concept_attention=m.training.concept_attention,
        )
        return self._runtime.loader(
            m.model,
            self._runtime.backends,
            model_id=m.id,
            cache_dir=self._runtime.cache_dir,
            device=vlm.device,
            dtype=vlm.dtype,
            backend=m.backend,
            settings=settings,
            offline=self._runtime.offline,
        )

    def memory_bytes(self) -> int | None:
        """Bytes of the loaded model's parameters."""
        session = self._model
        return None if session is None else parameter_bytes(session.model)


def _hub_files(reference: str, cache_dir: Path | None) -> HubFiles | None:
    # Only a hub download is photod's to delete; a local folder belongs to the user.
    if cache_dir is None or not reference.startswith("hf-hub:"):
        return None
    return HubFiles(reference[len("hf-hub:") :], Path(cache_dir) / "hf")


class VlmRuntime:
    """Every configured VLM, each a :class:`VlmModel` session loaded on first use."""

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
        self.loader = loader
        self.models = {m.id: VlmModel(self, m) for m in cfg.models}

    @property
    def model_ids(self) -> list[str]:
        """The configured VLM ids, in config order."""
        return [m.id for m in self.cfg.models]

    def model_config(self, model_id: str) -> VlmModelConfig:
        """The config of one VLM."""
        return self._model(model_id).cfg

    def _model(self, model_id: str) -> VlmModel:
        try:
            return self.models[model_id]
        except KeyError:
            raise ConfigError(
                f"vlm: no model with id {model_id!r} (configured: "
                f"{', '.join(self.model_ids) or 'none'})"
            ) from None

    def session(self, model_id: str) -> VlmSession:
        """The loaded session (loads it on first use); for a long use, see :meth:`use`."""
        return self._model(model_id).load()

    @contextmanager
    def use(self, model_id: str) -> Iterator[VlmSession]:
        """The loaded session, kept from idle unloading until the block ends (training)."""
        with self._model(model_id).use() as session:
            yield session

    def training_settings(self, model_id: str) -> VlmTrainingConfig:
        """The configured training hyperparameters of one VLM."""
        return self.model_config(model_id).training

    def describe(
        self,
        model_id: str,
        image: Image.Image,
        fired: Sequence[FiredConcept],
        questions: Sequence[str] | None = None,
        *,
        caption: bool | None = None,
    ) -> Description:
        """Caption and, per fired concept, the configured questions; all in one batched
        ``generate``. ``caption``: None captions when a concept fired or plain captions are on
        (the daemon), True always (``photod caption``), False never."""
        questions = self.cfg.questions if questions is None else questions
        concepts = [(c.identifier, c.embedding) for c in fired]
        prompts: list[str | None] = []
        if caption is None:
            caption = bool(fired) or self.cfg.plain_captions
        if caption:
            prompts.append(None)
        asked = [q.replace("{concept}", c.identifier) for c in fired for q in questions]
        prompts += asked
        if not prompts:
            return Description(None, [], {})
        with self.use(model_id) as session:
            texts = session.generate([image] * len(prompts), prompts, [concepts] * len(prompts))
        said = texts.pop(0) if caption else None
        return Description(
            said, list(zip(asked, texts, strict=True)), {c.name: c.version for c in fired}
        )

    def close(self) -> None:
        """Drop every loaded model."""
        for model in self.models.values():
            model.unload()
