"""The GPU sweep scripts, on a CPU: what they keep must be the run's curves (a first GPU
sweep lost its loss curves to a wrong column name), and what they run must be valid."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import default_run_sweep
from benchmarks.common import config
from benchmarks.default_run_sweep import SETTINGS
from benchmarks.gpu_sweeps import member_summary, steps_for
from recall.runs import RunFolder
from tests.test_findings import STEPS, fake_run, phase_curve


def test_member_summary_keeps_the_seen_and_unseen_curves(pretrained: RunFolder) -> None:
    summary = member_summary(pretrained, n=40, seed=0)
    curves = summary["curves"]
    steps, loss = pretrained.curve("seen/attr_loss")
    assert len(steps) > 10 and curves["step"] == steps.tolist()
    np.testing.assert_allclose(curves["attr_loss"], loss)
    assert len(curves["attr_acc"]) == len(steps)
    assert curves["unseen_attr_loss"] == pretrained.curve("unseen/attr_loss")[1].tolist()
    phases = pretrained.read_json(pretrained.phases)
    assert summary["knowledge_onset_step"] == phases["knowledge_onset_step"]
    assert (summary["n"], summary["seed"]) == (40, 0)


def test_sweep_lengths_follow_the_expected_plateau() -> None:
    lengths = [steps_for(n, tiny=False) for n in (4000, 8000, 16000, 32000)]
    assert lengths == sorted(lengths) and all(s % 100 == 0 for s in lengths)
    assert 1.6 < lengths[-1] / lengths[-2] < 1.9  # 2^0.81 = 1.75


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_default_run_setting_is_a_valid_train_config(setting: str) -> None:
    cfg = config(SETTINGS[setting])
    samples = cfg.data.batch_size * cfg.trainer.max_steps
    if cfg.model.n_layer == 2 and cfg.model.d_model == 128:  # the default's shape: its budget
        assert 82_000 <= samples <= 84_000


def test_a_sweep_run_meets_the_targets_only_with_all_three(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(default_run_sweep, "ROOT", tmp_path)
    runs = {"met": (200, 800, 0.7), "short": (200, 500, 0.7), "unlearned": (200, 800, 0.5)}
    for name, (stats_end, onset, final_acc) in runs.items():
        loss = [5 * x for x in phase_curve(stats_end, onset)]
        acc = [0.0] * (len(STEPS) - 1) + [final_acc]
        fake_run(tmp_path / name / "seed_0", {"seen/attr_loss": loss, "seen/attr_acc": acc}, STEPS)
    met = default_run_sweep.judged("met", 0)
    assert (met["statistics_end"], met["onset"], met["flat_until"]) == (200, 800, 800)
    assert met["targets_met"]
    assert not default_run_sweep.judged("short", 0)["targets_met"]  # onset 2.5x
    assert not default_run_sweep.judged("unlearned", 0)["targets_met"]  # accuracy 0.5
