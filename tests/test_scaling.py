"""The paths beyond one eager process: DDP (two gloo processes on the CPU learn what one
process learns, into one folder) and torch.compile (the same steps as eager)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from recall.runs import RunFolder
from recall.train import train
from tests.conftest import TINY_RUN

STEPS = [*TINY_RUN, "trainer.max_steps=150", "eval.every=50", "checkpoint.every_n_steps=100"]


def recall_train(cwd, *overrides: str) -> None:
    """The console script, as a user runs it (Lightning's DDP launcher re-runs it)."""
    command = [shutil.which("recall-train"), *STEPS, *overrides]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
def test_two_processes_match_one_and_write_one_run_folder(tmp_path):
    recall_train(tmp_path, "run_dir=single")
    recall_train(tmp_path, "trainer=ddp_cpu", "name=ddp")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs", "single"]
    (ddp_path,) = (tmp_path / "runs" / "ddp").iterdir()  # one folder despite ${now} in run_dir
    single, ddp = RunFolder(tmp_path / "single"), RunFolder(ddp_path)
    assert sorted(p.name for p in ddp.checkpoints.iterdir()) == sorted(
        p.name for p in single.checkpoints.iterdir()
    )
    for metric in ("seen/attr_loss", "unseen/attr_loss"):
        steps, alone = single.curve(metric)
        ddp_steps, together = ddp.curve(metric)
        assert list(ddp_steps) == list(steps) == [0, 50, 100, 150]
        assert together[0] == pytest.approx(alone[0], rel=1e-6)  # same initial weights
        np.testing.assert_allclose(together, alone, rtol=1e-3)  # seen: ~1e-5 apart
    assert ddp.read_json(ddp.phases)["tokens_per_s"] > 0


@pytest.mark.slow
def test_compiled_training_takes_the_same_steps_as_eager(make_cfg):
    overrides = [*TINY_RUN, "trainer.max_steps=40", "eval.every=20", "callbacks=none"]
    eager = train(make_cfg(*overrides, run="eager"))
    compiled = train(make_cfg(*overrides, "compile=true", run="compiled"))
    _, eager_loss = eager.curve("seen/attr_loss")
    _, compiled_loss = compiled.curve("seen/attr_loss")
    np.testing.assert_allclose(compiled_loss, eager_loss, rtol=1e-3)
