"""A run killed with SIGKILL at any moment, checkpoint writes included, resumes to the
curves of a run that was never interrupted."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from recall.checkpoints import partial_file
from recall.config import compose
from recall.runs import RunFolder
from recall.train import train
from tests.conftest import THREE_ATTRIBUTES, TINY_RUN

RUN = [
    *TINY_RUN,
    *THREE_ATTRIBUTES,
    "trainer.max_steps=1000",
    "eval.every=10",
    "checkpoint.every_n_steps=10",  # a checkpoint write every few hundredths of a second
    "callbacks=none",
    "threads=1",  # one core trains, the other watches for the moment to kill
]
KILLS = 20


def modified(path: Path) -> int:
    """When `path` was last written (ns); 0 while it does not exist."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:  # also when it is moved away while we look
        return 0


def start(cut: Path) -> subprocess.Popen:
    """Resume `cut` from its last checkpoint, or start it afresh if it has none yet (a run
    killed before its first checkpoint has nothing to resume: its folder is removed)."""
    last = cut / "checkpoints" / "last.ckpt"
    if last.is_file():
        args = [f"ckpt_path={last}"]
    else:
        shutil.rmtree(cut, ignore_errors=True)
        args = [*RUN, f"run_dir={cut}"]
    return subprocess.Popen(
        [sys.executable, "-c", "from recall.train import main; main()", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_a_run_killed_at_random_moments_resumes_to_the_uninterrupted_curves(tmp_path):
    full = train(compose("train", [*RUN, f"run_dir={tmp_path}/full"]))
    cut = tmp_path / "cut"
    last = cut / "checkpoints" / "last.ckpt"
    writing = partial_file(last)
    moments = random.Random(0)
    torn = 0
    for kill in range(KILLS):
        before, started = modified(last), time.time_ns()
        job = start(cut)
        deadline = time.monotonic() + 120
        while modified(last) == before:  # this process has trained and checkpointed
            assert job.poll() is None, "the run ended or failed before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        if kill % 2:  # anywhere: a step, an evaluation, a write
            time.sleep(moments.uniform(0, 0.3))
        else:  # as the next last.ckpt is being written: a millisecond or two, so no sleep
            give_up = time.monotonic() + 3  # (then anywhere: no cycle may run to the end)
            while modified(writing) < started and time.monotonic() < give_up:
                pass
        assert job.poll() is None, "the run finished before it was killed: make it longer"
        job.send_signal(signal.SIGKILL)
        job.wait()
        torn += modified(writing) >= started  # killed mid-write: this process's partial file
    assert torn > 0, "no kill landed during a checkpoint write"
    job = start(cut)
    assert job.wait(timeout=600) == 0
    resumed = RunFolder(cut)
    assert resumed.finished
    for metric in ("seen/attr_loss", "seen/attr_acc"):  # the evaluations
        steps, values = resumed.curve(metric)
        full_steps, full_values = full.curve(metric)
        assert steps.tolist() == full_steps.tolist()  # no step missing or repeated
        np.testing.assert_allclose(values, full_values, rtol=1e-4)
    # The training loss of the step just before a checkpoint reaches the logger after the
    # checkpoint is saved, so a kill before the next one loses that row (a known gap): no
    # row may repeat, and every row kept is the uninterrupted run's.
    steps, values = resumed.curve("train/loss")
    full_steps, full_values = full.curve("train/loss")
    assert len(set(steps.tolist())) == len(steps) and set(steps) <= set(full_steps)
    np.testing.assert_allclose(values, full_values[np.isin(full_steps, steps)], rtol=1e-4)
