"""Search at scale: build an index of N synthetic photos through photod's own index code,
then time queries in process and through the CLI.

    nice python bench/search.py --photos 100000
    nice python bench/search.py --photos 1000000 --dir /tmp/photod-search-1m --json out.json

The photos have captions (words drawn from a Zipf distribution over a 5,000-word
vocabulary, so common words match a large share of the library), tags, detections of 300
concepts (people, pets, objects), dates over 20 years, 40 cameras, 400 places and folders by
year and event. The index is built once per ``--dir`` and reused. ``LOADERS`` lists what
fills the index; a loader for CLIP image embeddings joins it when the vector store exists.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from photod.index import Index
from photod.index.bulk import BulkPhoto
from photod.index.concepts import add_concept
from photod.search.engine import SearchEngine

VOCAB, CONCEPTS, TAGS, CAMERAS, PLACES = 5000, 300, 200, 40, 400
KINDS = ("person", "pet", "object")
BATCH = 50_000


def vocabulary(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct pronounceable words."""
    cons, vows = "bcdfghklmnprstvz", "aeiou"
    words: set[str] = set()
    while len(words) < n:
        k = int(rng.integers(2, 5))
        words.add("".join(cons[rng.integers(16)] + vows[rng.integers(5)] for _ in range(k)))
    return sorted(words)


class World:
    """The synthetic library's vocabularies and its random draws."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.words = vocabulary(self.rng, VOCAB)
        ranks = np.arange(1, VOCAB + 1)
        self.p = (1 / ranks) / (1 / ranks).sum()  # Zipf: "the" is common, most words rare
        self.tags = [f"tag{w}" for w in self.words[:TAGS]]
        self.cameras = [f"Make{i % 7} Model{i}" for i in range(CAMERAS)]
        self.places = [f"Town{w.title()}, Region{i % 30}, Country{i % 12}"
                       for i, w in enumerate(self.words[-PLACES:])]  # fmt: skip
        self.names = [w.title() + "son" for w in self.words[1000 : 1000 + CONCEPTS]]

    def batch(self, start: int, n: int, concept_ids: list[int]) -> list[BulkPhoto]:
        """Photos ``start`` to ``start + n`` (drawn as arrays: a million in minutes)."""
        r = self.rng
        words = np.array(self.words)[r.choice(VOCAB, size=(n, 13), p=self.p)]
        lengths = r.integers(6, 14, size=n)
        years = 2006 + r.integers(20, size=n)
        months, days = r.integers(1, 13, size=n), r.integers(1, 29, size=n)
        cameras, lenses = r.integers(CAMERAS, size=n), r.integers(14, 200, size=n)
        places = np.where(r.random(n) < 0.6, r.integers(PLACES, size=n), -1)
        tags = r.integers(TAGS, size=(n, 2))
        n_tags, n_found = r.integers(0, 3, size=n), r.integers(0, 3, size=n)
        found = r.integers(CONCEPTS, size=(n, 2))
        return [
            BulkPhoto(
                path=f"/photos/{years[j]}/event{(start + j) // 200}/IMG_{start + j:07d}.jpg",
                taken_at=f"{years[j]}-{months[j]:02d}-{days[j]:02d}T12:00:00",
                camera=self.cameras[cameras[j]],
                lens=f"{lenses[j]}mm",
                place=self.places[places[j]] if places[j] >= 0 else None,
                captions=[" ".join(words[j, : lengths[j]])],
                tags=[self.tags[t] for t in tags[j, : n_tags[j]]],
                concept_ids=[concept_ids[c] for c in found[j, : n_found[j]]],
            )
            for j in range(n)
        ]


def load_concepts(index: Index, world: World) -> list[int]:
    """The synthetic concepts; their ids."""

    def add(db):
        return [add_concept(db, n, kind=KINDS[i % 3], class_word="thing").id
                for i, n in enumerate(world.names)]  # fmt: skip

    return index.write(add)


def load_photos(index: Index, world: World, count: int, concept_ids: list[int]) -> None:
    """Captions, tags, names, dates, cameras and places, ``BATCH`` photos per transaction."""
    for start in range(0, count, BATCH):
        rows = world.batch(start, min(BATCH, count - start), concept_ids)
        index.photos.add_bulk(rows)
        print(f"  {start + len(rows):,} photos", file=sys.stderr, flush=True)


LOADERS = [load_photos]


def build(path: Path, count: int) -> dict:
    """Build the index at ``path`` unless it is there; its size and build time."""
    if path.exists():
        return {"built": False, "size_mb": round(path.stat().st_size / 2**20, 1)}
    world = World()
    t0 = time.perf_counter()
    with Index(path) as index:
        ids = load_concepts(index, world)
        for loader in LOADERS:
            loader(index, world, count, ids)
    seconds = time.perf_counter() - t0
    return {"built": True, "build_s": round(seconds, 1),
            "size_mb": round(path.stat().st_size / 2**20, 1)}  # fmt: skip


def queries(world: World, rng: np.random.Generator) -> dict[str, list[str]]:
    """Query sets by kind: words drawn as captions draw them, so most queries find photos."""

    def words(k: int) -> str:
        return " ".join(rng.choice(world.words[:2000], size=k, p=None))

    def name() -> str:
        return world.names[int(rng.integers(CONCEPTS))]

    def kind_of(n: str) -> str:
        return KINDS[world.names.index(n) % 3]

    sets: dict[str, list[str]] = {"1 word": [], "2 words": [], "3 words": [],
                                  "filters only": [], "mixed": []}  # fmt: skip
    for _ in range(40):
        for k, key in ((1, "1 word"), (2, "2 words"), (3, "3 words")):
            sets[key].append(" ".join(rng.choice(world.words, size=k, p=world.p)))
        n = name()
        year = 2006 + int(rng.integers(20))
        sets["filters only"] += [
            f"{kind_of(n)}:{n}", f"after:{year} before:{year + 1}",
            f"tag:{world.tags[int(rng.integers(TAGS))]}",
            f"camera:{world.cameras[int(rng.integers(CAMERAS))].split()[1]}",
            f"near:{world.places[int(rng.integers(PLACES))].split(',')[0]}",
        ]  # fmt: skip
        sets["mixed"] += [
            f"{kind_of(n)}:{n} {words(1)}", f"{words(1)} after:{year}",
            f"{words(2)} -{words(1)}", f"with:{n},{name()} {words(1)}",
        ]  # fmt: skip
    return sets


def percentiles(samples: list[float], prefix: str = "") -> dict:
    """p50 and p95 in milliseconds."""
    ms = sorted(s * 1000 for s in samples)
    return {"n": len(ms), f"{prefix}p50_ms": round(statistics.median(ms), 2),
            f"{prefix}p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2)}  # fmt: skip


def in_process(path: Path, sets: dict[str, list[str]]) -> dict:
    """Each query through the search engine (first run of each set discarded as warm-up):
    wall time, and the process's CPU time (what the query costs on a machine others share)."""
    index = Index(path, readonly=True)
    engine = SearchEngine(index)
    out = {}
    for key, qs in sets.items():
        engine.search(qs[0])
        times, cpu, found = [], [], 0
        for q in qs:
            t0, c0 = time.perf_counter(), time.process_time()
            found += bool(engine.search(q, limit=50).results)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        out[key] = {**percentiles(times), **percentiles(cpu, "cpu_"), "found": found}
    index.close()
    return out


def through_cli(path: Path, sets: dict[str, list[str]], runs: int) -> dict:
    """``photod search --json`` as a user runs it: a new process per query."""
    config = path.parent / "bench-config.yaml"
    config.write_text(f"paths:\n  data_dir: {path.parent}\n  state_dir: {path.parent}/state\n"
                      f"  cache_dir: {path.parent}/cache\nindex:\n  path: {path}\n")  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = {}
    for key in ("1 word", "mixed"):
        times = []
        for q in sets[key][:runs]:
            t0 = time.perf_counter()
            command = [sys.executable, "-m", "photod", "--config", str(config), "search"]
            subprocess.run([*command, "--json", *q.split()], env=env, capture_output=True)
            times.append(time.perf_counter() - t0)
        out[key] = percentiles(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, help="where the index is kept (default by size)")
    ap.add_argument("--cli-runs", type=int, default=10, help="CLI processes per query set")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    folder = args.dir or Path(f"/tmp/photod-search-{args.photos}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.sqlite"
    report = {"photos": args.photos, "index": build(path, args.photos),
              "load_average": os.getloadavg()[0]}  # fmt: skip
    sets = queries(World(), np.random.default_rng(1))
    report["in_process"] = in_process(path, sets)
    report["cli"] = through_cli(path, sets, args.cli_runs)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
