"""Fine-tuning on new individuals: the data it adds, the interference it measures, its errors."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

import recall.finetune
from recall.callbacks.interference import CIRCUITS, attention_drift
from recall.compare import compare, find_runs
from recall.config import compose
from recall.data.corpus import Corpus
from recall.data.datamodule import LoaderConfig
from recall.data.distributions import sampling_weights
from recall.data.finetuning import FinetuneDataModule, replay_schedule
from recall.data.population import PopulationConfig, add_individuals, generate_population
from recall.errors import ConfigError
from recall.finetune import finetune
from recall.runs import RunFolder
from tests.conftest import ATTRIBUTES

POWER_LAW = {"name": "power_law", "alpha": 1.0}


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
    data = FinetuneDataModule(grown, LoaderConfig(n_eval=40), schedule, 0, 100, 300, weights)
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
    saved = OmegaConf.load(run.config)
    assert saved.new_individuals == 40 and saved.optim.lr == 3e-3  # explicit values win
    started = json.loads(run.corpus.read_text())["started_from"]
    assert started["checkpoint"] == str(pretrained.checkpoints / "last.ckpt")
    assert started["step"] == 500  # the pretrained fixture's last step
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
    for name in CIRCUITS:
        for layer in (0, 1):  # head means per layer, on the old biographies
            column = f"attn/{name}/layer{layer}"
            values = run.curve(column)[1]
            assert len(values) == len(steps) and ((values >= 0) & (values <= 1)).all()
            assert summary["attn_circuits"][f"{name}/layer{layer}"] == pytest.approx(
                {"start": values[0], "final": values[-1], "change": values[-1] - values[0]}
            )
    assert "attention_stability" not in summary and "control" not in summary
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


@pytest.mark.parametrize(
    ("schedule", "checkpoint", "replayed_as"),
    [
        ({"name": "piecewise", "pieces": [{"step": 0, "distribution": POWER_LAW}]}, 500, "power"),
        ({"name": "warmup", "individuals": 10, "steps": 300}, 100, "subset"),  # mid warm-up
        ({"name": "warmup", "individuals": 10, "steps": 300}, 500, "uniform"),  # after it
    ],
)
def test_old_individuals_keep_the_frequencies_they_were_trained_at(
    pretrained, tmp_path, schedule, checkpoint, replayed_as
):
    """Replay draws old individuals as the starting run's schedule did at its checkpoint."""
    (tmp_path / "checkpoints").mkdir()
    name = f"checkpoints/step{checkpoint:06d}.ckpt"
    for file in ("corpus.json", name):
        (tmp_path / file).write_bytes((pretrained.path / file).read_bytes())
    config = OmegaConf.load(pretrained.config)
    config.schedule = schedule
    OmegaConf.save(config, tmp_path / "config.yaml")
    weights = recall.finetune.load_start(str(tmp_path / name)).weights
    n = len(weights)
    expected = {
        "power": sampling_weights(POWER_LAW, n),
        "subset": np.r_[np.ones(10), np.zeros(n - 10)],
        "uniform": np.ones(n),
    }[replayed_as]
    np.testing.assert_allclose(weights, expected / expected.sum())


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
        ("seed=-1", "seed=-1 must be zero or positive"),
        ("replay=-1", "replay=-1"),
        ("new_individuals=-1", "new_individuals=-1 must be a count"),
        ("new_individuals=2.5", "new_individuals=2.5: Value '2.5' of type 'float' could not"),
        ("control=perhaps", "control=perhaps: Value 'perhaps' is not a valid bool"),
        ("new_fraction=0", "new_fraction=0.0 must be in"),
        ("new_fraction=1.5", "new_fraction=1.5 must be in"),
        ("lr_ratio=0", "lr_ratio=0.0 must be positive"),
        ("lr_ratio=-0.1", "lr_ratio=-0.1 must be positive"),
        ("control=true new_individuals=0", "already the control"),
        ("new_individuals=100000", "name pools too small"),
        ("n_eval=0", "n_eval=0 must be positive"),
        ("batch_size=-4", "batch_size=-4"),
    ],
)
def test_bad_finetuning_config_is_refused(pretrained, tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        finetune(finetune_cfg(tmp_path, pretrained.path, *override.split()))
    assert not (tmp_path / "finetune").exists()


def test_cli_error_is_one_line_from_a_real_process(tmp_path):
    """As a user's shell sees it: nothing else on stderr (no warning at import)."""
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-c", "from recall.finetune import main; main()", f"run_dir={out}"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("recall-finetune: error: start= is required")
    assert not out.exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("replay=-1", "replay=-1"),
        ("new_fraction=2", "new_fraction=2.0 must be in (0, 1]"),
        ("lr_ratio=0", "lr_ratio=0.0 must be positive"),
    ],
)
def test_cli_errors_are_one_line(pretrained, tmp_path, capfd, monkeypatch, override, message):
    out = tmp_path / "out"
    monkeypatch.setattr(
        sys, "argv", ["recall-finetune", f"run_dir={out}", f"start={pretrained.path}", override]
    )
    with pytest.raises(SystemExit) as exit_:
        recall.finetune.main()
    assert exit_.value.code == 2
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("recall-finetune: error:")
    assert message in lines[0]
    assert not out.exists()


def test_defaults_follow_the_study_ratios_for_the_starting_run(pretrained, tmp_path):
    defaults = compose("finetune", ["start=x"])
    assert defaults.new_individuals is None and defaults.optim.lr is None
    assert defaults.new_fraction == 0.0625 and defaults.lr_ratio == 0.075
    assert defaults.control is False
    started = OmegaConf.load(pretrained.config)
    cfg = finetune_cfg(
        tmp_path, pretrained.path, "new_individuals=null", "trainer.max_steps=2", "eval.every=2"
    )
    run = finetune(cfg)
    saved = OmegaConf.load(run.config)
    n_old = started.data.n_individuals
    assert saved.new_individuals == round(0.0625 * n_old) == 2  # 40 old
    assert saved.optim.lr == 0.075 * started.optim.lr
    assert json.loads(run.corpus.read_text())["n_individuals"] == n_old + saved.new_individuals
    trained = torch.load(run.checkpoints / "last.ckpt", weights_only=False)
    assert trained["hyper_parameters"]["optim"]["lr"] == saved.optim.lr  # the rate it ran at


def test_the_control_trains_only_on_the_old_individuals(corpus):
    n_old = corpus.population.n_seen
    distribution = {"name": "power_law", "alpha": 1.0}
    weights = sampling_weights(distribution, n_old)
    schedule = replay_schedule(weights, 0, replay=0.5)  # replay is irrelevant without new ones
    np.testing.assert_allclose(schedule.weights(0), weights / weights.sum())
    config = LoaderConfig(batch_size=64, distribution=distribution, n_eval=40)
    data = FinetuneDataModule(corpus, config, schedule, 0, 100, n_old, weights)
    stream = data.stream()
    drawn = np.concatenate([stream.batch(step).individuals.numpy() for step in range(200)])
    assert drawn.min() >= 0 and drawn.max() < n_old
    counts = np.bincount(drawn, minlength=n_old)
    # old individuals keep their pre-training frequencies (power law: 300x apart)
    assert counts[np.argmax(weights)] > 20 * max(1, counts[np.argmin(weights)])
    assert data.eval_groups["old"].all() and not data.eval_groups["new"].any()
    grown = Corpus(add_individuals(corpus.population, 50, seed=1))
    with_new = FinetuneDataModule(
        grown, config, replay_schedule(weights, 50, 0.0), 0, 100, n_old, weights
    )
    old_rows = torch.from_numpy(with_new.eval_groups["old"])
    for field in ("tokens", "individuals", "value_spans"):  # the same old biographies
        torch.testing.assert_close(
            getattr(with_new.eval_batches["seen"], field)[old_rows],
            getattr(data.eval_batches["seen"], field),
        )


def test_control_measures_attention_stability(pretrained, tmp_path):
    cfg = finetune_cfg(
        tmp_path, pretrained.path, "control=true", "optim.lr=3e-3", "trainer.max_steps=12",
        "eval.every=6", "eval.dense_until=0",
    )  # fmt: skip
    run = finetune(cfg)
    control = RunFolder(run.path / "control")
    assert control.finished and control.is_finetuning
    assert OmegaConf.load(control.config).new_individuals == 0
    assert OmegaConf.load(control.config).optim.lr == 3e-3
    assert not control.columns("new/")  # no new individuals: no new/ metrics
    assert json.loads(control.interference.read_text())["new_acc_final"] is None
    summary = json.loads(run.interference.read_text())
    assert summary["control"]["run"] == "control" and summary["control"]["final_step"] == 12
    stability = summary["attention_stability"]
    expected = [f"{name}/layer{layer}" for name in CIRCUITS for layer in (0, 1)]
    assert list(stability) == [*expected, "attn_drift/layer0", "attn_drift/layer1"]
    for key in expected:
        steps, tuned = run.curve(f"attn/{key}")
        control_steps, controlled = control.curve(f"attn/{key}")
        assert steps.tolist() == control_steps.tolist() == [0, 6, 12]
        assert tuned[0] == pytest.approx(controlled[0])  # same checkpoint, same biographies
        change = {"finetune": tuned[-1] - tuned[0], "control": controlled[-1] - controlled[0]}
        change["difference"] = change["finetune"] - change["control"]
        assert stability[key] == pytest.approx(change)
    drift = stability["attn_drift/layer1"]
    assert drift["finetune"] == pytest.approx(run.curve("attn_drift/layer1")[1][-1])
    assert drift["control"] == pytest.approx(control.curve("attn_drift/layer1")[1][-1])
    # a sweep folder holding the run: the control is part of the run, not a run of its own
    assert [r.path for r in find_runs([tmp_path])] == [run.path]
    rows, _ = compare([run], tmp_path / "comparison")
    recall_circuit = stability["attr_to_name/layer1"]["difference"]  # the last layer's
    assert rows[0]["attr_to_name_vs_control"] == round(recall_circuit, 4)


def test_a_failed_control_leaves_the_run_intact(pretrained, tmp_path, monkeypatch):
    real = recall.finetune.finetune_run

    def control_fails(cfg, start):
        if cfg.new_individuals:
            return real(cfg, start)
        (tmp_path / "finetune" / "control").mkdir()
        (tmp_path / "finetune" / "control" / "config.yaml").write_text("partial: true\n")
        raise RuntimeError("the control broke")

    monkeypatch.setattr(recall.finetune, "finetune_run", control_fails)
    cfg = finetune_cfg(
        tmp_path, pretrained.path, "control=true", "trainer.max_steps=2", "eval.every=2",
        "eval.dense_until=0",
    )  # fmt: skip
    run = finetune(cfg)
    summary = json.loads(run.interference.read_text())
    assert summary["control"] == {"run": None, "error": "RuntimeError: the control broke"}
    assert "attention_stability" not in summary and summary["final_step"] == 2
    assert not (run.path / "control").exists() and run.interference_plot.is_file()
    assert run.finished and run.curve("old/attr_acc")[0].tolist() == [0, 2]
