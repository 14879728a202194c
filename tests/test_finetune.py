"""Fine-tuning on new individuals: the data it adds, the interference it measures, its errors."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from recall.callbacks.interference import attention_drift
from recall.compare import compare
from recall.config import compose
from recall.data.corpus import Corpus
from recall.data.datamodule import LoaderConfig
from recall.data.finetuning import FinetuneDataModule, replay_schedule
from recall.data.population import PopulationConfig, add_individuals, generate_population
from recall.errors import ConfigError
from recall.finetune import finetune
from tests.conftest import ATTRIBUTES


def test_new_individuals_are_new_and_old_rows_unchanged(corpus):
    old = corpus.population
    grown = add_individuals(old, 200, seed=5)
    n_seen, n_unseen = old.n_seen, old.n_unseen
    assert grown.n_seen == n_seen + 200 and grown.n_unseen == n_unseen
    np.testing.assert_array_equal(grown.name_ids[:n_seen], old.name_ids[:n_seen])
    np.testing.assert_array_equal(grown.values[-n_unseen:], old.values[n_seen:])
    np.testing.assert_array_equal(grown.name_ids[-n_unseen:], old.name_ids[n_seen:])
    names = {tuple(row) for row in grown.name_ids}
    assert len(names) == len(grown.name_ids)  # every full name still unique
    new_values = grown.values[n_seen : n_seen + 200]
    ks = np.array([pool.cardinality for pool in grown.pools.values()])
    assert (new_values >= 0).all() and (new_values < ks).all()
    assert len(np.unique(new_values[:, 0])) > 100  # drawn, not constant (336 birth dates)
    assert Corpus(grown).tokenizer.vocab == corpus.tokenizer.vocab
    assert grown.fingerprint() != old.fingerprint()
    again = add_individuals(old, 200, seed=5)
    np.testing.assert_array_equal(again.name_ids, grown.name_ids)


def test_new_individuals_need_free_names():
    config = PopulationConfig(
        n_individuals=100, n_unseen=0, first_names=4, middle_names=4, last_names=16,
        attributes=ATTRIBUTES,
    )  # fmt: skip
    population = generate_population(config)
    with pytest.raises(ConfigError, match="name pools too small"):
        add_individuals(population, 100, seed=0)
    with pytest.raises(ConfigError, match="new_individuals=0"):
        add_individuals(population, 0, seed=0)


@pytest.mark.parametrize("replay", [0.0, 0.25, 2.0])
def test_replay_weight_sets_the_share_of_old_individuals(replay):
    n_old, n_new, draws = 300, 100, 200_000
    schedule = replay_schedule(np.ones(n_old), n_new, replay)
    picks = schedule.sample(0, np.random.default_rng(0), draws)
    expected = replay * n_old / (replay * n_old + n_new)
    share = (picks < n_old).mean()
    assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / draws) + 1e-12


def test_replay_keeps_the_old_frequencies_and_rejects_negative_weights():
    old = np.array([4.0, 2.0, 1.0, 1.0])
    schedule = replay_schedule(old, 4, 0.5)
    weights = schedule.weights(0)
    np.testing.assert_allclose(weights[:4] / weights[4], 0.5 * old / old.mean())
    with pytest.raises(ConfigError, match="replay=-1"):
        replay_schedule(old, 4, -1.0)


def test_evaluation_splits_into_old_and_new(corpus):
    grown = Corpus(add_individuals(corpus.population, 50, seed=1))
    weights = np.ones(corpus.population.n_seen)
    schedule = replay_schedule(weights, 50, 0.0)
    data = FinetuneDataModule(grown, LoaderConfig(n_eval=40), schedule, 0, 300, weights)
    rows = data.eval_batches["seen"].individuals.numpy()
    assert data.eval_groups["old"].sum() == 40 and data.eval_groups["new"].sum() == 40
    assert (rows[data.eval_groups["old"]] < 300).all() and (
        rows[data.eval_groups["new"]] >= 300
    ).all()
    assert data.eval_buckets == {}


def test_attention_drift_is_total_variation():
    tokens = torch.ones(2, 3, dtype=torch.long)
    p = torch.eye(3).expand(2, 4, 3, 3)  # every query on itself
    q = torch.roll(torch.eye(3), 1, dims=1).expand(2, 4, 3, 3)  # every query elsewhere
    assert attention_drift([p, p], [p, q], tokens).tolist() == [0.0, 1.0]
    half = 0.5 * (p + q)
    assert attention_drift([half], [p], tokens).item() == pytest.approx(0.5)


def finetune_cfg(tmp_path, start, *overrides, run="finetune"):
    return compose(
        "finetune",
        [
            f"start={start}",
            f"run_dir={tmp_path / run}",
            "new_individuals=40",
            "n_eval=40",
            "drift_biographies=16",
            "trainer.max_steps=60",
            "eval.every=20",
            "eval.dense_until=10",
            "progress_refresh=0",
            *overrides,
        ],
    )


def _digest(folder) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path).encode() + path.read_bytes())
    return h.hexdigest()


def test_finetuning_forgets_old_individuals_and_learns_new_ones(pretrained, tmp_path):
    before = _digest(pretrained.path)
    run = finetune(finetune_cfg(tmp_path, pretrained.path, "optim.lr=3e-3"))
    assert _digest(pretrained.path) == before  # the starting run is only read
    started = json.loads(run.corpus.read_text())["started_from"]
    assert started["checkpoint"] == str(pretrained.checkpoints / "last.ckpt")
    assert started["step"] == 300
    steps, old = run.curve("old/attr_acc")
    _, new = run.curve("new/attr_acc")
    assert steps.tolist() == [*range(11), 20, 40, 60]  # every step at first, then every 20
    summary = json.loads(run.interference.read_text())
    assert summary["old_acc_start"] > 0.5  # the pre-trained run knows its individuals
    assert new[0] < 0.1  # and not the new ones
    assert summary["old_acc_min"] < 0.5 * summary["old_acc_start"]  # forgetting
    assert new[-1] > new[0] + 0.05  # learning
    _, drift = run.curve("attn_drift/layer0")
    assert drift[0] == 0.0 and drift[-1] > 0
    assert run.interference_plot.stat().st_size > 10_000


def test_replay_shrinks_the_drop_and_runs_compare(pretrained, tmp_path):
    runs = [
        finetune(finetune_cfg(tmp_path, pretrained.path, "optim.lr=3e-3", f"replay={r}", run=r))
        for r in ("0", "1")
    ]
    rows, fit = compare(runs, tmp_path / "comparison")
    assert [row["replay"] for row in rows] == [0, 1] and fit is None
    for row, run in zip(rows, runs, strict=True):
        assert row["old_acc_final"] == round(run.curve("old/attr_acc")[1][-1], 4)
    assert rows[1]["old_acc_final"] > rows[0]["old_acc_final"] + 0.1, rows
    assert (tmp_path / "comparison" / "interference.png").stat().st_size > 10_000
    with pytest.raises(ConfigError, match="cannot compare fine-tuning runs with training"):
        compare([runs[0], pretrained], tmp_path / "mixed")


def test_incompatible_checkpoint_is_refused_before_anything_runs(pretrained, tmp_path):
    checkpoint = torch.load(pretrained.checkpoints / "last.ckpt", weights_only=False)
    checkpoint["hyper_parameters"]["model"]["max_len"] += 5
    weight = checkpoint["state_dict"]["model.pos_emb.weight"]
    checkpoint["state_dict"]["model.pos_emb.weight"] = torch.cat([weight, weight[:5]])
    foreign = tmp_path / "checkpoints" / "foreign.ckpt"  # in a copy of the run folder
    foreign.parent.mkdir()
    for name in ("config.yaml", "corpus.json"):
        (tmp_path / name).write_bytes((pretrained.path / name).read_bytes())
    torch.save(checkpoint, foreign)
    with pytest.raises(ConfigError, match="does not belong to this run"):
        finetune(finetune_cfg(tmp_path, foreign))
    (tmp_path / "checkpoints" / "junk.ckpt").write_text("not a checkpoint")
    with pytest.raises(ConfigError, match="not a readable recall checkpoint"):
        finetune(finetune_cfg(tmp_path, tmp_path / "checkpoints" / "junk.ckpt"))
    assert not (tmp_path / "finetune").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("start=/no/such/run", "checkpoint not found"),
        ("replay=-1", "replay=-1"),
        ("new_individuals=0", "new_individuals=0"),
        ("new_individuals=100000", "name pools too small"),
        ("n_eval=0", "n_eval=0 must be positive"),
        ("batch_size=-4", "batch_size=-4"),
    ],
)
def test_bad_finetuning_config_is_refused(pretrained, tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        finetune(finetune_cfg(tmp_path, pretrained.path, override))
    assert not (tmp_path / "finetune").exists()


@pytest.mark.parametrize(
    ("overrides", "message"), [([], "start= is required"), (["replay=-1"], "replay=-1")]
)
def test_cli_errors_are_one_line(pretrained, tmp_path, overrides, message):
    start = [f"start={pretrained.path}"] if overrides else []
    args = [f"run_dir={tmp_path / 'out'}", *start, *overrides]
    result = subprocess.run(
        [sys.executable, "-c", "from recall.finetune import main; main()", *args],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("recall-finetune: error:")
    assert message in lines[0]
    assert not (tmp_path / "out").exists()
