"""Per-photo cost of the concept heads with 1, 10 and 100 concepts, against the shared features.

Shared features: dlib faces (HOG + ResNet embeddings) and a full-size ViT-B-32 CLIP
(random weights: the same compute as the real one, no download). Heads: person keys (4 per
person) and object linear heads, scored through the real head classes. Run:

    .venv/bin/python bench/heads.py [--photos 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))


def main() -> None:
    """Print a table of milliseconds per photo."""
    from concept_fixtures import composite, make_config

    from photod.heads.base import LoadedConcept
    from photod.heads.features import SharedFeatures
    from photod.heads.object import ObjectHead
    from photod.heads.person import PersonHead
    from photod.index import Index, jobs
    from photod.index.concepts import Concept
    from photod.models.cache import ModelSessions
    from photod.models.clip import ClipEmbedder
    from photod.pipeline.task import PhotoInfo, PhotoTask

    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=8)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    config = make_config(tmp)
    index = Index(config.index_path).start()
    clip = ClipEmbedder("ViT-B-32/random", config.paths.cache_dir)
    features = SharedFeatures(config, index, ModelSessions(), clip=clip)
    images = [composite(i).resize((1024, 512)) for i in range(args.photos)]
    tasks = [
        PhotoTask(
            job=jobs.Job(0, jobs.INDEX, f"/p{i}"),
            path=Path(f"/p{i}"),
            info=PhotoInfo(f"h{i}", 0, 0, 1024, 512),
            image=im,
        )
        for i, im in enumerate(images)
    ]
    features.compute(tasks[:1], {"faces", "clip"})  # warm-up: model loading is not per photo
    t = time.perf_counter()
    for task in tasks:
        task.features.clear()
        features.compute([task], {"faces", "clip"})
    shared_ms = (time.perf_counter() - t) / len(tasks) * 1000
    rng = np.random.default_rng(0)
    print(f"shared features (dlib faces + ViT-B-32 CLIP): {shared_ms:.1f} ms/photo")
    print("concepts | person head ms | object head ms | both ms | overhead vs shared")
    for n in (1, 10, 100):
        person, obj = PersonHead(features), ObjectHead(features)
        face_meta = {"face_model": features.face_backend.model_id}
        clip_meta = {"clip_model": clip.model_id, "threshold": 0.5}
        person.load(
            [
                LoadedConcept(
                    Concept(i, f"p{i}", "x", "person", "man", 1),
                    {"keys": rng.normal(size=(4, 128)).astype(np.float32)},
                    face_meta,
                )
                for i in range(n)
            ]
        )
        obj.load(
            [
                LoadedConcept(
                    Concept(i, f"o{i}", "x", "object", "mug", 1),
                    {
                        "weight": rng.normal(size=(1, clip.dim)).astype(np.float32),
                        "bias": np.zeros(1, np.float32),
                    },
                    clip_meta,
                )
                for i in range(n)
            ]
        )
        reps = 50
        t = time.perf_counter()
        for _ in range(reps):
            for task in tasks:
                person.score(task)
        p_ms = (time.perf_counter() - t) / reps / len(tasks) * 1000
        t = time.perf_counter()
        for _ in range(reps):
            for task in tasks:
                obj.score(task)
        o_ms = (time.perf_counter() - t) / reps / len(tasks) * 1000
        both = p_ms + o_ms
        print(f"{n:8d} | {p_ms:14.3f} | {o_ms:14.3f} | {both:7.3f} | {both / shared_ms:.3%}")
    index.close()


if __name__ == "__main__":
    main()
