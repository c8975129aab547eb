"""photod itself over a dataset: what ``photod eval --gate heads`` measures.

The dataset's folder is the photo library of a private photod installation (its own config,
index and concept store in a work folder). It is indexed once with ``photod scan`` (every
photo gets the base model's caption), and that index is kept as a snapshot. For each split,
the snapshot is restored and each concept is taught exactly as a user does it:

    photod concept add KEY --kind K --class WORD --identifier ID --head object TRAIN...
    photod concept examples add KEY PHOTO --caption "..."     (--targets dataset only)
    photod concept train KEY
    photod scan                                               (the queued re-runs)

so its head trains on the split's examples with negatives mined from the rest of the library,
its embedding trains on captions the base model wrote (``--targets generated``) or on the
dataset's (``dataset``), and the daemon's heads decide where embeddings are appended. The
captions and detections are then read from the index.

Every toy concept uses the object head: the toy world's person glyphs have no face a face
detector would find. With a feature model (``features_dir``, the toy world's ``toy-features``)
it is the patch-prototype head (``heads.object.backbone: dinov2``), else the CLIP linear one.
Without a VLM (``model_dir`` None) only the heads are taught and run: the REC section's
``box source: head`` rows (:mod:`photod_lab.evaluation.rec_head`) read the boxes they wrote.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import yaml
from click.testing import CliRunner

from photod_lab.evaluation.dataset import ConceptData
from photod_lab.evaluation.myvlm import EVAL_VLM
from photod_lab.toyworld.fixture import model_config

TARGETS = ("generated", "dataset")


@dataclass
class SplitResult:
    """What the daemon wrote after one split's concepts were taught."""

    captions: dict[Path, str]  # photo -> caption
    fired: dict[Path, set[str]]  # photo -> concept keys whose head fired
    heads: dict[str, dict]  # concept key -> the head's training metrics (threshold...)
    boxes: dict[Path, dict[str, tuple[float, float, float, float]]]  # photo -> key -> box


class PhotodInstallation:
    """A photod configuration whose library is a dataset folder; see the module docstring."""

    def __init__(
        self,
        data_root: Path,
        model_dir: Path | None,
        clip_dir: Path,
        work: Path,
        features_dir: Path | None = None,
    ) -> None:
        self.root = Path(data_root).resolve()
        self.work = Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.model_id = Path(model_dir).name if model_dir is not None else None
        config = {
            "paths": {n: str(self.work / n) for n in ("data_dir", "cache_dir", "state_dir")},
            "library": {"roots": [str(self.root)]},
            "clip": {"model": f"local-dir:{Path(clip_dir).resolve()}"},
            "models": {"offline": True},
        }
        if model_dir is not None:
            entry = model_config(model_dir, self.model_id).model_dump(mode="json")
            config["vlm"] = {"models": [entry], **EVAL_VLM}
        if features_dir is not None:
            feature_model = f"local-dir:{Path(features_dir).resolve()}"
            config["heads"] = {"object": {"backbone": "dinov2", "feature_model": feature_model}}
        self.config_path = self.work / "config.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self._snapshot = self.work / "indexed"
        self._runner = CliRunner()

    def photod(self, *args: str) -> str:
        """Run one ``photod`` command on this installation; its output (raises on failure)."""
        from photod.cli import cli

        result = self._runner.invoke(cli, ["--config", str(self.config_path), *args])
        if result.exit_code != 0:
            raise RuntimeError(
                f"photod {' '.join(args)} failed: {result.output}"
            ) from result.exception
        return result.output

    @property
    def _data(self) -> Path:
        return self.work / "data_dir"

    def index_library(self) -> None:
        """Index every photo once (base captions) and keep the index as the snapshot."""
        if self._snapshot.exists():
            return
        self.photod("scan", "--no-progress")
        shutil.copytree(self._data, self._snapshot)

    def reset(self) -> None:
        """Back to the indexed library with no concept (the snapshot)."""
        shutil.rmtree(self._data, ignore_errors=True)
        shutil.copytree(self._snapshot, self._data)

    def teach(self, concept: ConceptData, train: list[Path], targets: str) -> None:
        """``photod concept add`` and ``photod concept train``; with ``targets`` "dataset",
        each example is added with the dataset's caption as the user's own."""
        info = concept.info
        own = targets == "dataset"
        self.photod(
            "concept", "add", info.key, "--kind", info.kind, "--class", info.class_word,
            "--identifier", info.identifier, "--head", "object",
            *([] if own else map(str, train)),
        )  # fmt: skip
        for path in train if own else []:
            caption = concept.captions.get(path.name, [])[:1]
            extra = ["--caption", caption[0]] if caption else []
            self.photod("concept", "examples", "add", info.key, str(path), *extra)
        self.photod("concept", "train", info.key)

    def run_split(
        self, concepts: list[tuple[ConceptData, list[Path]]], targets: str
    ) -> SplitResult:
        """Teach every concept of a split on a fresh copy of the indexed library, let the
        daemon re-run what changed, and read what it wrote."""
        if targets not in TARGETS:
            raise ValueError(f"targets: one of {', '.join(TARGETS)}, not {targets!r}")
        self.reset()
        for concept, train in concepts:
            self.teach(concept, train, targets)
        self.photod("scan", "--no-progress")
        return self.read()

    def base_captions(self) -> dict[Path, str]:
        """The base model's captions (the snapshot, before any concept)."""
        return self._captions(self._snapshot / "index.sqlite")

    def _connect(self, db: Path) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{db}?mode=ro", uri=True)

    def _captions(self, db: Path) -> dict[Path, str]:
        with self._connect(db) as con:
            rows = con.execute(
                "SELECT p.path, c.text FROM captions c JOIN photos p ON p.id = c.photo_id "
                "WHERE c.model = ?",
                (self.model_id,),
            ).fetchall()
        return {Path(p): t for p, t in rows}

    def read(self) -> SplitResult:
        """Captions, detections and the heads' training metrics from the current index."""
        db = self._data / "index.sqlite"
        fired: dict[Path, set[str]] = {}
        boxes: dict[Path, dict[str, tuple[float, float, float, float]]] = {}
        with self._connect(db) as con:
            for path, key, *box in con.execute(
                "SELECT p.path, k.name, d.x, d.y, d.w, d.h FROM detections d "
                "JOIN photos p ON p.id = d.photo_id JOIN concepts k ON k.id = d.concept_id"
            ):
                fired.setdefault(Path(path), set()).add(key)
                if box[0] is not None:
                    boxes.setdefault(Path(path), {})[key] = tuple(box)
            heads = {
                name: json.loads(metrics or "{}")
                for name, metrics in con.execute("SELECT name, metrics FROM concepts")
            }
        return SplitResult(self._captions(db), fired, heads, boxes)
