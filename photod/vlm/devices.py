"""Device and dtype choice for the VLM backends.

The dtype follows what the hardware does fast, not what is smallest: on CPUs without native
bf16 (no AVX-512 BF16 / AMX) a bf16 matmul was measured 100x slower than fp32
(0.3-1 against 107-166 GFLOP/s on a 2-core AMD EPYC with AVX2).
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import torch

from photod.errors import ConfigError

log = logging.getLogger(__name__)

DTYPES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}


@cache
def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU computes bf16 natively (AVX-512 BF16 or AMX)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:  # not Linux: be conservative, fp32 is always correct
        return False
    return "avx512_bf16" in text or "amx_bf16" in text


def choose_device(requested: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then CPU; anything else is taken as a torch device."""
    if requested != "auto":
        try:
            return torch.device(requested)
        except RuntimeError as exc:
            raise ConfigError(f"vlm.device: {exc}") from exc
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def choose_dtype(device: torch.device, requested: str = "auto") -> torch.dtype:
    """``auto``: bf16 on CUDA that supports it (else fp16), fp16 on MPS, and on a CPU bf16
    only where it is native, fp32 otherwise."""
    if requested != "auto":
        if requested not in DTYPES:
            raise ConfigError(f"vlm.dtype: {requested!r}; use auto, {', '.join(DTYPES)}")
        return DTYPES[requested]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
