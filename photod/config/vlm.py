"""The ``vlm:`` section: the VLMs that caption, answer and locate, and how concept embeddings
train for each (documented in config.example.yaml)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from photod.config.section import Section
from photod.presets import vlm_preset


class VlmTrainingConfig(Section):
    """Concept-embedding training for one VLM (defaults: the reference's, for real models)."""

    steps: int = Field(100, ge=1)
    learning_rate: float = Field(1.0, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    grad_clip: float = Field(0.05, gt=0)
    init_scale: float = Field(1.0, gt=0, description="norm of the raw embedding at init")
    views: int = Field(20, ge=1, description="cached augmented views per example")
    augment: bool = True
    flip_p: float = Field(0.5, ge=0, le=1, description="0 when targets say left/right")
    brightness: float = Field(0.6, ge=0)
    rotation: float = Field(45.0, ge=0, description="degrees")
    mirrors: list[Literal["horizontal", "vertical"]] = Field(
        default_factory=list,
        description="extra examples: mirror images, captioned anew (captions saying left/right)",
    )
    reg_lambda: float | None = Field(
        None, ge=0, description="attention regulariser for captions; default per backend"
    )
    reg_lambda_vqa: float | None = Field(
        None, ge=0, description="attention regulariser for VQA targets; default per backend"
    )
    kv_norm_match: bool = Field(True, description="BLIP-2 key/value norm matching")
    tokens: int = Field(1, ge=1, le=16, description="tokens per concept (MyVLM: 1)")
    distractor_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="share of examples that also carry another concept's embedding "
        "(photos of several concepts; 0: MyVLM)",
    )
    concept_scale: float = Field(
        1.0, gt=0, description="multiplier of the concept token's norm target (1: as published)"
    )
    concept_attention: Literal["joint", "separate"] = Field(
        "joint",
        description="BLIP-2, photos of several concepts: joint (one softmax over the image "
        "and every concept token, as published) or separate (each concept token competes "
        "only with the image's, as when it was trained alone)",
    )
    look: Literal["none", "anchor"] = Field(
        "none",
        description="anchor: each token is the concept's look, estimated from the training "
        "photos, plus a learnt vector (none: MyVLM's random start)",
    )
    checkpoint_every: int = Field(25, ge=0)
    seed: int = 0
    vqa: bool = Field(True, description="also train on the VQA pool (generated answers)")
    caption_beams: int = Field(
        4,
        ge=1,
        le=16,
        description="base-model captions considered per training photo (beam search): the "
        "best that names the concept is its target",
    )


class VlmGroundingConfig(Section):
    """A VLM that answers "where is X" with a box as text (personalized REC, `photod locate`)."""

    question: str = Field(
        "[refer] give me the location of {concept}",
        description="asked with the concept's embedding appended; {concept} is its identifier "
        "(the default is MiniGPT-v2's referring task)",
    )
    grid: float = Field(
        100.0, gt=0, description="the scale of the answer's corners: {<x0><y0><x1><y1>} on 0-100"
    )


class VlmModelConfig(Section):
    """One configured VLM; ``id`` is recorded with every caption and names its embeddings."""

    id: str = Field(..., min_length=1)
    model: str = Field(..., description="'hf-hub:org/repo', 'local-dir:/path' or a directory")
    backend: str = Field("auto", description="auto (from config.json), blip2, llava, plugin")
    caption_prompt: str | None = Field(None, description="with {concepts}; default per backend")
    plain_caption_prompt: str | None = None
    question_template: str | None = Field(None, description="BLIP-2: 'Question: {} Answer:'")
    training: VlmTrainingConfig = Field(default_factory=VlmTrainingConfig)
    grounding: VlmGroundingConfig | None = Field(
        None, description="set for a model that answers with boxes: it locates pets and objects"
    )


class VlmConfig(Section):
    """Vision-language models: captions and VQA with concept embeddings (MyVLM)."""

    preset: str | None = Field(
        None,
        description="a supported model in one setting (`photod models list`); "
        "it becomes the first vlm.models entry, with the preset's name as id",
    )
    models: list[VlmModelConfig] = Field(
        default_factory=list, description="no model: no captions (the stage is off)"
    )
    device: str = Field("auto", description="auto (cuda, mps, cpu), cpu, cuda:1, ...")
    dtype: str = Field(
        "auto", description="auto, fp32, bf16, fp16 (auto: fp32 on CPUs without native bf16)"
    )
    plain_captions: bool = Field(
        True, description="caption photos where no concept fired (off saves most CPU time)"
    )
    questions: list[str] = Field(
        default_factory=lambda: ["What is {concept} doing?", "Where is {concept}?"],
        description="asked once per fired concept",
    )
    max_new_tokens: int = Field(40, ge=1)
    batch_size: int = Field(8, ge=1)
    idle_unload_seconds: float = Field(0, ge=0, description="free the model when idle (0: never)")

    @field_validator("models", mode="after")
    @classmethod
    def _unique_ids(cls, v: list[VlmModelConfig]) -> list[VlmModelConfig]:
        ids = [m.id for m in v]
        if len(ids) != len(set(ids)):
            raise ValueError("VLM ids must be unique")
        return v

    @field_validator("preset", mode="after")
    @classmethod
    def _known_preset(cls, v: str | None) -> str | None:
        if v is not None:
            vlm_preset(v)
        return v

    @model_validator(mode="before")
    @classmethod
    def _expand_preset(cls, data: Any) -> Any:
        # Expanded before validation, so the preset's entry is validated like any other.
        if not isinstance(data, dict) or not data.get("preset"):
            return data
        try:
            entry = vlm_preset(data["preset"]).model_entry()
        except (TypeError, ValueError):
            return data  # the preset field's own validator names the problem
        models = list(data.get("models") or [])
        if any(isinstance(m, dict) and m.get("id") == entry["id"] for m in models):
            return data  # the user's own entry for the preset wins (its training settings)
        return {**data, "models": [entry, *models]}
