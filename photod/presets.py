"""The supported VLMs a user can turn on in one setting: ``vlm.preset``.

Each preset names a hub model that photod's backends serve, the hardware it suits, its size,
its licence and what a caption costs. The costs are estimates (marked so) until measured on
the real weights; ``photod models list`` prints this table, ``photod models pull`` fetches
the chosen model. A preset expands to one ``vlm.models`` entry whose id is the preset's name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VlmPreset:
    """One supported VLM: where it comes from and what it costs."""

    name: str
    model: str  # a model reference, as in ``vlm.models[].model``
    hardware: str  # "cpu" (a home server) or "gpu"
    params: str
    download: str
    licence: str
    #: Seconds per caption (40 new tokens), on the preset's hardware; "estimated" unless measured.
    seconds_per_caption: str

    def model_entry(self) -> dict[str, str]:
        """The ``vlm.models`` entry this preset expands to (the backend's own defaults)."""
        return {"id": self.name, "model": self.model}


VLM_PRESETS: dict[str, VlmPreset] = {
    p.name: p
    for p in (
        VlmPreset(
            name="llava-0.5b",
            model="hf-hub:llava-hf/llava-interleave-qwen-0.5b-hf",
            hardware="cpu",
            params="0.9B",
            download="1.8 GB",
            licence="Qwen research licence (non-commercial), see the model card",
            seconds_per_caption="about 3 s on a CPU, fp32 (estimated)",
        ),
        VlmPreset(
            name="blip2-opt-2.7b",
            model="hf-hub:Salesforce/blip2-opt-2.7b",
            hardware="gpu",
            params="3.9B",
            download="15.5 GB",
            licence="MIT (BLIP-2); the OPT language model's licence is non-commercial",
            seconds_per_caption="under 1 s on a GPU, fp16 (estimated); 15-20 s on a CPU, fp32",
        ),
        VlmPreset(
            name="llava-1.5-7b",
            model="hf-hub:llava-hf/llava-1.5-7b-hf",
            hardware="gpu",
            params="7.1B",
            download="14 GB",
            licence="Llama 2 Community Licence",
            seconds_per_caption="about 1-2 s on a GPU, fp16 (estimated)",
        ),
    )
}


def vlm_preset(name: str) -> VlmPreset:
    """The preset called ``name``; ``ValueError`` naming the known ones otherwise."""
    try:
        return VLM_PRESETS[name]
    except KeyError:
        known = ", ".join(f"{p.name} ({p.hardware})" for p in VLM_PRESETS.values())
        raise ValueError(f"unknown preset {name!r}; use one of: {known}") from None
