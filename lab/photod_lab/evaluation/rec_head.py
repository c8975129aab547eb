"""The REC section's ``box source: head`` rows: the localizing head's box, no grounding VLM.

Where no grounding VLM is configured, ``photod locate`` and the daemon take a concept's box
from its object head (the patch-prototype head knows where it fired). For each number of
training images and split, every concept is taught to a VLM-less
:class:`~photod_lab.evaluation.product.PhotodInstallation` exactly as a user teaches it
(``photod concept add`` + ``photod concept train``, then ``photod scan``), and the boxes the
daemon wrote into the index are scored:

- accuracy: held-out photos of the concept where its head fired AND its box has IoU >= 0.5
  with the concept's (``boxes.json``);
- fired rate: held-out photos of the concept where its head fired (with or without a good box);
- absent box rate: photos without the concept (the same photos as the VLM rows: negatives,
  half of them holding its look-alike, then the other concepts' held-out photos) where its
  head fired.

There is no base-model row: a head has no class question to ask.
"""

from __future__ import annotations

from typing import Any

from photod_lab.evaluation.dataset import EvalDataset
from photod_lab.evaluation.harness import mean_of
from photod_lab.evaluation.product import PhotodInstallation
from photod_lab.evaluation.rec import RecConfig, absent_photos, box_accuracy, run_protocol


class HeadRecEvaluator:
    """Runs the REC protocol with photod's heads as the box source; see the module docstring."""

    def __init__(
        self, photod: PhotodInstallation, config: RecConfig, progress: bool = True
    ) -> None:
        self.photod, self.cfg, self.progress = photod, config, progress

    def run(self, data: EvalDataset) -> dict[str, Any]:
        """Index the dataset once, then every shot count, split and concept."""
        self.photod.index_library()
        header = {"model": "object heads", "box_source": "head"}
        return run_protocol(self.cfg, data, self._split, header, self.progress)

    def _split(self, data, concepts, splits, k, bar) -> dict[str, dict[str, float | None]]:
        taught, held = [], {}
        for c in concepts:
            train_idx, test_idx = splits[c.info.key][k]
            taught.append((c, [c.images[i] for i in train_idx]))
            held[c.info.key] = [c.images[i] for i in test_idx][: self.cfg.max_heldout]
        out = self.photod.run_split(taught, "generated")
        rows = {}
        for c in concepts:
            key = c.info.key
            fired = [float(key in out.fired.get(p.resolve(), ())) for p in held[key]]
            got = [out.boxes.get(p.resolve(), {}).get(key) for p in held[key]]
            absent = absent_photos(data, concepts, held, key, self.cfg.max_absent)
            rows[key] = {
                "accuracy": box_accuracy(got, [c.boxes[p.name] for p in held[key]]),
                "fired_rate": mean_of(fired),
                "absent_box_rate": mean_of(
                    [float(key in out.fired.get(p.resolve(), ())) for p in absent]
                ),
                "head_threshold": out.heads.get(key, {}).get("threshold"),
                "n": len(held[key]),
                "n_absent": len(absent),
            }
            bar.update(1)
        return rows
