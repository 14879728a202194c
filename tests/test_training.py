"""Real (short) training runs through the Hydra config and the Lightning trainer."""

import json
import re
import signal

import lightning as L
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from recall.data.corpus import Corpus
from recall.data.population import generate_population
from recall.errors import ConfigError
from recall.fitting import build_run
from recall.runs import RunFolder
from recall.settings import validate
from recall.train import resume_config, train
from tests.conftest import THREE_ATTRIBUTES, TINY_RUN

PHASE_KEYS = ("baseline", "statistics_end_step", "knowledge_onset_step", "plateau_length")


def test_short_run_leaves_the_plateau(make_cfg):
    run = train(make_cfg(*TINY_RUN, "trainer.max_steps=300", "eval.every=25"))
    summary = json.loads(run.phases.read_text())
    chance = 1 / 50  # the smallest value pool of the default attributes has 100 values
    assert summary["final_attr_acc"] > 10 * chance
    assert summary["knowledge_onset_step"] is not None
    assert summary["final_attr_loss"] < 0.7 * summary["baseline"]
    corpus = json.loads(run.corpus.read_text())
    assert summary["baseline"] == corpus["baseline"] < summary["baseline_uniform"]  # N = 40
    assert (run.curve("baseline")[1] == corpus["baseline"]).all()  # metrics.csv: empirical
    assert (run.curve("baseline_uniform")[1] == corpus["baseline_uniform"]).all()
    assert run.tokenizer.is_file() and "circuits" in summary
    steps, acc = run.curve("seen/attr_acc")
    assert steps[0] == 0 and steps[-1] == 300 and acc[0] == 0.0
    assert run.phase_plot.stat().st_size > 10_000
    assert run.phase_plot.with_suffix(".pdf").is_file()
    assert (run.checkpoints / "step000000.ckpt").is_file()  # the untrained model
    assert list(run.tensorboard.glob("events.out.tfevents.*"))
    last = torch.load(run.checkpoints / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 300  # the final model, though 300 is no checkpoint period
    assert OmegaConf.load(run.config).trainer.max_steps == 300
    header = run.metrics.read_text().splitlines()[0].split(",")
    for bucket in ("head", "torso", "tail"):
        assert {f"seen/attr_acc/{bucket}", f"seen/attr_loss/{bucket}"} <= set(header)


def test_power_law_run_learns_the_head_first(make_cfg):
    run = train(
        make_cfg(
            *TINY_RUN,
            "data.n_individuals=200",
            "data.n_eval=200",
            "data/distribution=power_law",
            "data.distribution.alpha=1.2",
            "trainer.max_steps=200",
            "eval.every=50",
            "callbacks=none",
        )
    )
    _, head = run.curve("seen/attr_acc/head")
    _, tail = run.curve("seen/attr_acc/tail")
    assert head[-1] > max(0.1, 3 * tail[-1]), (head, tail)


def test_stop_at_accuracy_ends_the_run_early(make_cfg):
    run = train(make_cfg(*TINY_RUN, "trainer.max_steps=1000", "eval.every=25", "stop_at_acc=0.2"))
    steps, acc = run.curve("seen/attr_acc")
    assert steps[-1] < 1000 and acc[-1] >= 0.2 and (acc[:-1] < 0.2).all()
    assert json.loads(run.phases.read_text())["final_step"] == steps[-1]


def test_stop_at_onset_ends_the_run_at_the_confirmed_onset(make_cfg):
    cfg = make_cfg(*TINY_RUN, "trainer.max_steps=1000", "eval.every=25", "stop_at_onset=true")
    run = train(cfg)
    phases = run.detected_phases()
    steps, loss = run.curve("seen/attr_loss")
    patience = cfg.phases.patience  # the onset is confirmed this many evaluations after it
    assert phases.knowledge_onset_step is not None and steps[-1] < 1000
    assert steps[-patience] == phases.knowledge_onset_step
    assert (loss[-patience:] <= (1 - cfg.phases.knowledge_margin) * phases.baseline).all()


def test_dynamics_callbacks_log_to_csv_and_tensorboard(make_cfg):
    run = train(make_cfg(*TINY_RUN, "trainer.max_steps=150", "eval.every=50"))
    header = run.metrics.read_text().splitlines()[0].split(",")
    for layer in (0, 1):
        for metric in ("name_to_name", "attr_to_name", "attr_to_text", "entropy"):
            assert f"attn/{metric}/layer{layer}" in header
            assert f"attn/{metric}/layer{layer}/head1" in header
    for metric in ("attr_loss", "attr_loss_excess", "max_prob", "entropy", "hallucination_rate"):
        assert f"unseen/{metric}" in header
    assert {"seen/max_prob", "seen/entropy", "phase"} <= set(header)
    steps, phase = run.curve("phase")
    assert steps.tolist() == [0, 50, 100, 150] and phase[0] == 0
    _, share = run.curve("attn/attr_to_name/layer1")
    assert ((share >= 0) & (share <= 1)).all()
    events = EventAccumulator(
        str(run.tensorboard), size_guidance={"images": 0, "histograms": 0}
    ).Reload()
    figures = {"attn/attr_to_name_heatmap", "attn/example_last_layer", "phases/figure"}
    assert figures <= set(events.Tags()["images"])
    assert [e.step for e in events.Images("phases/figure")][-1] == 150  # the final figure
    assert {"seen/confidence", "unseen/confidence"} <= set(events.Tags()["histograms"])
    assert "attn/attr_to_name/layer1" in events.Tags()["scalars"]


class StopAt(L.Callback):
    """Presses Ctrl-C at a given step."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


@pytest.mark.parametrize(
    "schedule",
    [["schedule=constant"], ["schedule=warmup", "schedule.individuals=8", "schedule.steps=50"]],
)
def test_resume_continues_the_same_run(make_cfg, tmp_path, schedule):
    common = [
        *TINY_RUN,
        *schedule,  # a warm-up that ends after the cut: the resumed run must end it too
        "trainer.max_steps=60",
        "eval.every=10",
        "checkpoint.every_n_steps=20",
        "trainer.log_every_n_steps=7",  # the training loss labelled 20 comes after its checkpoint
    ]
    full = train(make_cfg(*common, run="full"))
    handler = signal.getsignal(signal.SIGINT)
    last = tmp_path / "cut" / "checkpoints" / "last.ckpt"
    try:  # the message recall-train prints after "interrupted; "
        with pytest.raises(KeyboardInterrupt, match=re.escape(f"resume with ckpt_path={last}")):
            train(make_cfg(*common, run="cut"), callbacks=[StopAt(25)])
    finally:
        signal.signal(signal.SIGINT, handler)  # Lightning ignores Ctrl-C after an interrupt
    cut = RunFolder(tmp_path / "cut")
    assert not cut.finished and cut.curve("seen/attr_loss")[0][-1] == 20
    resumed = train(resume_config(OmegaConf.load(cut.config), [f"ckpt_path={last}"]))
    assert resumed.path == cut.path and resumed.finished
    for metric in ("seen/attr_loss", "train/loss"):
        steps, values = resumed.curve(metric)
        full_steps, full_values = full.curve(metric)
        assert steps.tolist() == full_steps.tolist()  # continued, nothing logged twice
        np.testing.assert_allclose(values, full_values, rtol=1e-4)


def test_ctrl_c_before_the_first_checkpoint_leaves_no_run_folder(make_cfg, tmp_path):
    cfg = make_cfg(*TINY_RUN, *THREE_ATTRIBUTES, "trainer.max_steps=40", "callbacks=none")
    handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(KeyboardInterrupt, match="^nothing trained was kept$"):
            train(cfg, callbacks=[StopAt(3)])
    finally:
        signal.signal(signal.SIGINT, handler)
    assert not (tmp_path / "run").exists()


def test_a_resume_that_would_rewrite_the_run_is_refused_and_writes_nothing(make_cfg):
    """config.yaml, corpus.json and the curves must describe the steps already trained."""
    run = train(
        make_cfg(
            *TINY_RUN,
            *THREE_ATTRIBUTES,
            "trainer.max_steps=40",
            "optim.decay_steps=10",  # lr constant to step 30, then a cosine
            "schedule=piecewise",
            "schedule.pieces=[{step:0},{step:50,individuals:8}]",
            "eval.every=10",
            "checkpoint.every_n_steps=10",
            "callbacks=none",
        )
    )
    files = {path: path.read_bytes() for path in (run.metrics, run.phases, run.config, run.corpus)}
    saved, last = OmegaConf.load(run.config), run.checkpoints / "last.ckpt"
    refused = [
        (run.checkpoints / "step000020.ckpt", [], "holds weights only"),
        (last, ["optim.lr=1e-3"], "cannot change 'optim'"),
        (last, ["callbacks.hallucination.enabled=true"], "cannot change 'callbacks'"),
        (last, ["trainer.gradient_clip_val=0.5"], "cannot change 'trainer.gradient_clip_val'"),
        (last, ["trainer.max_steps=45"], "learning rate of steps already trained, from step 31"),
        (last, ["trainer.max_steps=60"], r"another schedule piece.*baseline"),
    ]
    for checkpoint, overrides, message in refused:
        with pytest.raises(ConfigError, match=message):
            train(resume_config(saved, [f"ckpt_path={checkpoint}", *overrides]))
    assert {path: path.read_bytes() for path in files} == files
    # killed at its last step while writing its summary: resuming completes it, not refused
    run.phases.unlink()
    completed = train(resume_config(saved, [f"ckpt_path={last}"]))
    phases, before = json.loads(completed.phases.read_text()), json.loads(files[run.phases])
    assert {k: phases[k] for k in PHASE_KEYS} == {k: before[k] for k in PHASE_KEYS}
    # from step 20, before either decay begins (30 of 40, 35 of 45), a longer run may resume
    longer = resume_config(saved, [f"ckpt_path={last}", "trainer.max_steps=45"])
    settings = validate(longer)
    corpus = Corpus(generate_population(settings.population))
    build_run(longer, settings, corpus, run, 20)
