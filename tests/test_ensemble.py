"""Ensembles: members trained on stacked weights are their separate runs, and resume."""

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from recall.checkpoints import checkpoint_step
from recall.compare import find_runs
from recall.config import compose
from recall.ensemble import check_members, member_configs, train_ensemble
from recall.errors import ConfigError
from recall.finetune import finetune
from recall.model.gpt import GPT, GPTConfig
from recall.model.module import checkpoint_model
from recall.model.stacked import StackedGPT, stack_padded
from recall.runs import RunFolder
from recall.settings import validate
from recall.train import resume_config, train, train_seeds
from tests.conftest import THREE_ATTRIBUTES, TINY_RUN
from tests.test_finetune import finetune_cfg

ENSEMBLE_RUN = [*TINY_RUN, *THREE_ATTRIBUTES, "eval.every=25", "checkpoint.every_n_steps=50"]


def metric_rows(run: RunFolder) -> dict[tuple[int, str], float]:
    """Every logged value of metrics.csv by (step, metric)."""
    with (run.path / "metrics.csv").open(newline="") as f:
        return {
            (int(row["step"]), key): float(value)
            for row in csv.DictReader(f)
            for key, value in row.items()
            if key != "step" and value != ""
        }


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Members of seeds=[0,1] over 100 steps, and the separate runs of seeds 0 and 1."""
    root = tmp_path_factory.mktemp("ensemble")
    common = [*ENSEMBLE_RUN, "trainer.max_steps=100"]
    members = train_ensemble(compose("train", [*common, f"run_dir={root}/e", "seeds=[0,1]"]))
    separate = [
        train(compose("train", [*common, f"run_dir={root}/seed{s}", f"seed={s}"])) for s in (0, 1)
    ]
    return members, separate


def test_members_match_their_separate_runs(pair):
    members, separate = pair
    for member, alone in zip(members, separate, strict=True):
        got, want = metric_rows(member), metric_rows(alone)
        # train/loss every 10 steps agreeing to 1e-4 also means the batches were the same
        assert set(got) == set(want) and any(k == "train/loss" for _, k in want)
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
        assert member.phases.is_file()
        expected = {p.name for p in alone.path.iterdir()}
        assert {p.name for p in member.path.iterdir()} == expected
        weights = sorted(p.name for p in member.checkpoints.glob("step*.ckpt"))
        assert weights == sorted(p.name for p in alone.checkpoints.glob("step*.ckpt"))
        final = checkpoint_model(member.checkpoints / "step000100.ckpt").state_dict()
        for name, value in (
            checkpoint_model(alone.checkpoints / "step000100.ckpt").state_dict().items()
        ):
            torch.testing.assert_close(final[name], value, rtol=1e-3, atol=1e-4)
    corpora = [OmegaConf.load(m.config).seed for m in members]
    assert corpora == [0, 1]


def test_train_seeds_runs_one_seed_plainly_and_several_as_an_ensemble(pair, tmp_path):
    common = [*ENSEMBLE_RUN, "trainer.max_steps=100", "callbacks=none"]
    (single,) = train_seeds(compose("train", [*common, f"run_dir={tmp_path}/one"]), [1])
    assert single.path == tmp_path / "one" and not single.is_ensemble
    loss = single.curve("seen/attr_loss")[1]
    np.testing.assert_allclose(loss, pair[1][1].curve("seen/attr_loss")[1], rtol=1e-4)
    several = train_seeds(compose("train", [*common, f"run_dir={tmp_path}/two"]), [0, 1])
    assert [r.path.name for r in several] == ["seed_0", "seed_1"]
    assert all(r.finished and r.read_json(r.phases)["ensemble_members"] == 2 for r in several)


def test_a_member_is_read_and_finetuned_like_any_run(pair, tmp_path):
    member = pair[0][1]
    assert [r.path for r in find_runs([member.path.parent])] == [m.path for m in pair[0]]
    assert member.detected_phases().baseline == member.read_json(member.phases)["baseline"]
    cfg = finetune_cfg(tmp_path, member.path, "trainer.max_steps=20", "control=false")
    run = finetune(cfg)
    started = run.read_json(run.corpus)["started_from"]
    assert started["checkpoint"].endswith("step000100.ckpt")  # its final weights


def test_stacked_forward_is_each_members_own_forward():
    """Members of different vocabularies and lengths, on padded batches, with and without
    given attention patterns: each member's logits are its own GPT's, and so is vmap's."""
    torch.manual_seed(0)
    shapes = [
        GPTConfig(vocab_size=50 + 9 * i, max_len=20 + i, d_model=32, n_head=2) for i in range(3)
    ]
    members = [GPT(shape) for shape in shapes]
    stacked = StackedGPT(members)
    tokens = stack_padded([torch.randint(1, 50, (4, 20 - i)) for i in range(3)])
    logits = stacked(tokens)
    for i, (member, shape) in enumerate(zip(members, shapes, strict=True)):
        own, patterns = member(tokens[i], return_patterns=True)
        torch.testing.assert_close(logits[i, ..., : shape.vocab_size], own)
        torch.testing.assert_close(stacked.vmapped(tokens)[i, ..., : shape.vocab_size], own)
        assert (logits[i, ..., shape.vocab_size :] == 0).all()  # padded rows: zero logits
    given = [torch.softmax(torch.randn(3, 4, 2, 20, 20), -1).tril() for _ in range(2)]
    patched = stacked(tokens, given)
    for i, (member, shape) in enumerate(zip(members, shapes, strict=True)):
        own, _ = member(tokens[i], patterns=[g[i] for g in given])
        torch.testing.assert_close(patched[i, ..., : shape.vocab_size], own)


def test_members_may_differ_only_where_shapes_stay(tmp_path):
    cfg = compose("train", [f"run_dir={tmp_path}", "seeds=[0,1]"])
    members = member_configs(cfg, tmp_path)
    assert [m.run_dir for m in members] == [str(tmp_path / "seed_0"), str(tmp_path / "seed_1")]
    members[1].optim.lr = 1e-3  # a learning rate may differ
    members[1].data.distribution = {"name": "power_law", "alpha": 1.0}
    check_members(members)
    members[1].model.d_model = 64
    with pytest.raises(ConfigError, match="differ in 'model.d_model'"):
        check_members(members)
    with pytest.raises(ConfigError, match="must be different integers"):
        member_configs(compose("train", ["seeds=[1,1]"]), tmp_path)
    refused = compose("train", [f"run_dir={tmp_path}/refused", "seeds=[0,1]", "stop_at_acc=0.5"])
    with pytest.raises(ConfigError, match="stop_at_acc"):
        train_ensemble(refused)
    assert not (tmp_path / "refused").exists()  # nothing written
    refused = compose("train", [f"run_dir={tmp_path}/refused", "seeds=[0,1]", "stop_at_onset=true"])
    with pytest.raises(ConfigError, match="stop_at_onset"):
        train_ensemble(refused)
    variants = compose("train", ["members=[{optim:{lr:1e-3}},{optim:{lr:3e-3}}]", "seeds=[0,1]"])
    names = [os.path.basename(m.run_dir) for m in member_configs(variants, tmp_path)]
    assert names == ["member_0_seed_0", "member_0_seed_1", "member_1_seed_0", "member_1_seed_1"]


def test_a_member_may_name_another_distribution_or_schedule(tmp_path):
    """A variant naming another kind replaces the base's node; one naming none changes values."""
    members = member_configs(
        compose(
            "train",
            [
                "data/distribution=celebrities",
                "members=[{data:{distribution:{name:power_law,alpha:1.0}}},"
                "{data:{distribution:{weight:3}}},{schedule:{name:warmup,individuals:8,steps:5}}]",
            ],
        ),
        tmp_path,
    )
    got = [(dict(m.data.distribution), dict(m.schedule)) for m in members]
    assert got == [
        ({"name": "power_law", "alpha": 1.0}, {"name": "constant"}),
        ({"name": "celebrities", "n": 100, "weight": 3}, {"name": "constant"}),
        (
            {"name": "celebrities", "n": 100, "weight": 10},
            {"name": "warmup", "individuals": 8, "steps": 5},
        ),
    ]
    check_members(members)
    for member in members:
        validate(member)


def test_an_ensemble_may_log_no_training_loss(tmp_path):
    """trainer.log_every_n_steps=0 logs no training loss, as in a separate run."""
    cfg = compose(
        "train",
        [
            *ENSEMBLE_RUN,
            "trainer.max_steps=4",
            "trainer.log_every_n_steps=0",
            "callbacks=none",
            f"run_dir={tmp_path}",
            "seeds=[0,1]",
        ],
    )
    for member in train_ensemble(cfg):
        assert member.finished and member.curve("train/loss")[0].size == 0


def test_a_killed_ensemble_resumes_without_losing_or_repeating_steps(tmp_path):
    common = [*ENSEMBLE_RUN, "trainer.max_steps=150", "seeds=[0,1]"]
    full = train_ensemble(compose("train", [*common, f"run_dir={tmp_path}/full"]))
    cut = tmp_path / "cut"
    command = "from recall.train import main; main()"
    job = subprocess.Popen(
        [sys.executable, "-c", command, *common, f"run_dir={cut}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = cut / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not (last.is_file() and checkpoint_step(str(last)) >= 50):
        assert job.poll() is None and time.monotonic() < deadline, "the run ended too soon"
        time.sleep(0.2)
    job.send_signal(signal.SIGKILL)
    job.wait()
    saved = checkpoint_step(str(last))
    for member in ("seed_0", "seed_1"):  # nothing lost but the steps after the checkpoint
        logged = max(step for step, _ in metric_rows(RunFolder(cut / member)))
        assert saved <= logged + 1 and logged - saved < 50
    resumed = train_ensemble(
        resume_config(OmegaConf.load(cut / "config.yaml"), [f"ckpt_path={last}"])
    )
    for member, reference in zip(resumed, full, strict=True):
        assert member.finished
        for metric in ("seen/attr_loss", "train/loss", "unseen/attr_loss"):
            steps, values = member.curve(metric)
            full_steps, full_values = reference.curve(metric)
            assert steps.tolist() == full_steps.tolist()  # no step missing or repeated
            np.testing.assert_allclose(values, full_values, rtol=1e-4)
        # throughput counts the tokens of the steps this process trained, as its flops
        ratio, full_ratio = (
            r.read_json(r.phases)["tokens_per_s"] / r.read_json(r.phases)["model_flops_per_s"]
            for r in (member, reference)
        )
        assert ratio == pytest.approx(full_ratio, rel=0.1)


def test_patched_members_match_their_separate_patched_runs(pretrained, tmp_path):
    """Members differing in learning rate, each a twin using the reference's attention."""
    common = [
        *TINY_RUN,
        "trainer.max_steps=40",
        "eval.every=20",
        "callbacks=none",
        f"patching.run={pretrained.path}",
        "patching.step=500",
    ]
    members = train_ensemble(
        compose(
            "train",
            [*common, f"run_dir={tmp_path}/e", "members=[{optim:{lr:3e-3}},{optim:{lr:1e-3}}]"],
        )
    )
    alone = train(compose("train", [*common, f"run_dir={tmp_path}/alone", "optim.lr=1e-3"]))
    got, want = metric_rows(members[1]), metric_rows(alone)
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    assert metric_rows(members[0]) != got  # the other learning rate trained otherwise
