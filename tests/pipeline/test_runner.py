"""The staged pipeline: threaded and sequential twins agree; failures stay per photo."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from photod.errors import PhotoError
from photod.index.jobs import Job
from photod.pipeline.runner import ThreadedPipeline, run_sequential
from photod.pipeline.stage import BaseStage
from photod.pipeline.task import PhotoTask


class Append(BaseStage):
    def __init__(self, name, position, fail_on=(), crash_on=(), workers=1, delay=0.0):
        self.name, self.position, self.workers = name, position, workers
        self.fail_on, self.crash_on, self.delay = set(fail_on), set(crash_on), delay

    def process(self, task):
        if self.delay:
            time.sleep(self.delay)
        if task.job.id in self.fail_on:
            raise PhotoError("bad photo", stage=self.name)
        if task.job.id in self.crash_on:
            raise KeyError("bug")
        task.extras.setdefault("trail", []).append(self.name)


def tasks(n):
    return [PhotoTask(job=Job(i, "index", f"/p{i}.jpg"), path=Path(f"/p{i}.jpg")) for i in range(n)]


def outcome(finished):
    return {
        t.job.id: (t.extras.get("trail"), t.error and (t.error.stage, str(t.error)))
        for t in finished
    }


def stages():
    return [Append("a", 1, workers=3), Append("b", 2, fail_on={3}, crash_on={5}), Append("c", 3)]


def test_threaded_and_sequential_agree_and_isolate_failures():
    seq: list[PhotoTask] = []
    run_sequential(stages(), tasks(20), seq.append)
    done: list[PhotoTask] = []
    pipe = ThreadedPipeline(stages(), done.append, queue_size=2).start()
    for t in tasks(20):
        pipe.put(t)
    assert pipe.wait_idle(timeout=10)
    pipe.close()
    assert outcome(done) == outcome(seq)
    result = outcome(seq)
    assert result[0] == (["a", "b", "c"], None)
    assert result[3] == (["a"], ("b", "bad photo"))  # later stages skip a failed photo
    assert result[5] == (["a"], ("b", "KeyError: 'bug'"))  # a bug costs one photo


def test_unchanged_photos_skip_model_stages():
    class Always(Append):
        runs_on_unchanged = True

    t = tasks(1)[0]
    t.unchanged = True
    run_sequential([Append("model", 1), Always("index", 2)], [t], lambda _: None)
    assert t.extras["trail"] == ["index"]


def test_bounded_queues_apply_back_pressure():
    gate = threading.Event()

    class Blocked(Append):
        def process(self, task):
            gate.wait()

    pipe = ThreadedPipeline([Blocked("slow", 1)], lambda _: None, queue_size=2).start()
    put = 0
    for t in tasks(10):
        try:
            pipe.put(t, timeout=0.2)
            put += 1
        except Exception:
            break
    # One task in the worker, two in its queue, two waiting for the finisher at most.
    assert 2 <= put <= 5
    gate.set()
    assert pipe.wait_idle(timeout=5)
    pipe.close()


class Batching(Append):
    """Records the batches it was given; fails a whole batch that holds job 7."""

    batch_size = 4

    def __init__(self):
        super().__init__("batch", 1)
        self.batches: list[list[int]] = []

    def process_batch(self, tasks):
        ids = [t.job.id for t in tasks]
        if 7 in ids:
            raise PhotoError("job 7 poisons its batch", stage="batch")
        self.batches.append(ids)
        for t in tasks:
            t.extras.setdefault("trail", []).append("batch")

    def process(self, task):
        time.sleep(0.1)  # slow single photos: the others pile up into batches meanwhile
        if task.job.id == 7:
            raise PhotoError("bad photo 7", stage="batch")
        task.extras.setdefault("trail", []).append("single")


def test_batching_stage_gets_waiting_photos_together_and_errors_stay_per_photo():
    gate = threading.Event()

    class Gate(Append):
        def process(self, task):
            gate.wait()

    stage = Batching()
    done: list[PhotoTask] = []
    pipe = ThreadedPipeline([Gate("gate", 0, workers=1), stage], done.append, queue_size=16)
    pipe.start()
    for t in tasks(12):
        pipe.put(t)
    gate.set()  # photos pile up behind the gate, then flow into the batching stage
    assert pipe.wait_idle(timeout=10)
    pipe.close()
    result = outcome(done)
    assert len(result) == 12
    assert result[7] == (None, ("batch", "bad photo 7"))  # only the culprit fails
    assert all(r[1] is None for i, r in result.items() if i != 7)
    assert max(len(b) for b in stage.batches) > 1  # batches really formed
    assert all(len(b) <= 4 for b in stage.batches)
