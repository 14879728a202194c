import subprocess
import sys
from typing import Any

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from recall import analyze, compare, export, plot, reproduce
from recall.cli import checked_command_line
from recall.config import CONFIG_DIR, call_registered
from recall.config import compose as train_config
from recall.ensemble import member_configs
from recall.errors import ConfigError
from recall.fitting import prepare_run_folder
from recall.settings import validate
from recall.train import launches_processes, resume_config

GROUPS = {  # every config group (data/distribution included), Hydra's own aside
    str(g.relative_to(CONFIG_DIR)): sorted(p.stem for p in g.glob("*.yaml"))
    for g in CONFIG_DIR.rglob("*")
    if g.is_dir() and g.parts[len(CONFIG_DIR.parts)] != "hydra"
}


@pytest.mark.parametrize("group,option", [(g, o) for g, opts in GROUPS.items() for o in opts])
def test_every_config_composes_and_validates(group, option):
    overrides = [f"{group}={option}"]
    if option == "custom":  # needs a weights file
        overrides.append(f"data.distribution.path={CONFIG_DIR}/../tests/data/weights_1000.txt")
        overrides.append("data.n_individuals=1000")
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        cfg = compose("train", overrides=overrides)
    if cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():
        cfg.trainer.accelerator = "cpu"  # validate builds a Trainer: the rest is checked here
    settings = validate(cfg)
    assert settings.max_steps > 0


@pytest.mark.parametrize(
    ("config", "required"), [("train", []), ("finetune", ["start"]), ("generate", ["out"])]
)
def test_each_top_level_yaml_gives_every_schema_key_a_value(config, required):
    """The schema (recall/schema.py) holds types only: every default is in the YAML files,
    and only what the user must give stays missing."""
    assert sorted(OmegaConf.missing_keys(train_config(config))) == required


def test_a_resumed_or_ensemble_config_is_typed_too(make_cfg, tmp_path):
    saved = OmegaConf.create(OmegaConf.to_container(make_cfg()))  # as config.yaml reloads it
    with pytest.raises(ConfigError, match="eval.every: Value 'many'"):
        validate(resume_config(saved, ["ckpt_path=/x/last.ckpt", "eval.every=many"]))
    with pytest.raises(ConfigError, match="optim.lr: Value 'fast'"):
        member_configs(make_cfg("members=[{optim:{lr:fast}}]"), tmp_path)


@pytest.mark.parametrize("launcher", ["local", "slurm"])
def test_launcher_configs_compose(launcher):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        cfg = compose("train", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.startswith("hydra_plugins.")
    assert cfg.hydra.callbacks.summary._target_ == "recall.compare.SweepSummary"


def test_paper_experiment_matches_the_study():
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        cfg = compose("train", overrides=["experiment=paper"])
    assert (cfg.model.n_layer, cfg.model.d_model, cfg.model.n_head) == (8, 512, 8)
    assert cfg.data.batch_size == 128 and cfg.trainer.max_steps == 16000
    assert cfg.optim.lr == 4e-4 and list(cfg.optim.betas) == [0.9, 0.95]
    assert cfg.optim.weight_decay == 0.1 and cfg.data.n_individuals == 64000
    assert (cfg.data.templates, cfg.data.heldout_templates) == (25, 5)
    assert len(cfg.data.attributes) == 6 and all(k >= 100 for k in cfg.data.attributes.values())
    text = (CONFIG_DIR / "experiment" / "paper.yaml").read_text()
    assert "arXiv 2503.21676" in text and "silent" in text  # cites it, says what it omits


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.n_individuals=-5", "data.n_individuals=-5 must be positive"),
        ("data.batch_size=0", "data.batch_size=0 must be positive"),
        ("data.heldout_templates=30", "data.heldout_templates=30"),
        ("data.distribution.name=zipfian", "unknown data.distribution.name 'zipfian'"),
        ("data/distribution=power_law data.distribution.alpha=-1", "alpha=-1 must be >= 0"),
        ("data/distribution=celebrities data.distribution.n=5000", "n=5000 must be between"),
        ("data/distribution=celebrities +data.distribution.alpha=1", "celebrities takes n, weight"),
        ("data/distribution=custom data.distribution.path=/nonexistent.txt", "cannot read"),
        ("data.frequency_buckets=[0.5,0.1]", "0 < head < torso < 1"),
        ("schedule.name=shuffle", "unknown schedule.name 'shuffle'"),
        ("schedule=warmup schedule.individuals=5000", "warmup needs 0 < individuals"),
        ("schedule=sequential schedule.groups=0", "sequential needs 0 < groups"),
        ("schedule=piecewise schedule.pieces.0.step=5", "must start at step 0"),
        ("stop_at_acc=1.5", "stop_at_acc=1.5 must be in"),
        ("stop_at_onset=true callbacks=none", "stop_at_onset needs the phase detector"),
        ("optim.decay_steps=0", "optim.decay_steps=0 must be positive"),
        ("+data.attributes.shoe_size=4", "unknown attribute 'shoe_size'"),
        ("data.last_names=2", "name pools too small"),
        # the fix a message names is a key the command line takes
        ("data.last_names=2", "raise data.first_names, data.middle_names or data.last_names$"),
        ("data.first_names=0", "data.first_names=0 must be positive"),
        ("seed=-3", "seed=-3 must be zero or positive"),
        ("+data.colour=red", "unknown key data.colour"),
        ("model.n_head=5", "divisible"),
        ("trainer.max_steps=0", "trainer.max_steps=0 must be a positive integer"),
        ("trainer.max_steps=abc", "trainer.max_steps=abc must be a positive integer"),
        ("trainer.log_every_n_steps=x", "trainer.log_every_n_steps=x must be an integer >= 0"),
        # the open nodes: trainer.* checked by Lightning, distribution and schedule parameters
        # against the named function's types
        ("trainer.precision=bogus", "trainer: Precision 'bogus' is invalid"),
        ("+trainer.foo=1", "trainer: .*unexpected keyword argument 'foo'"),
        ("+trainer.logger=false", "trainer.logger is set by recall itself; remove it"),
        ("+trainer.enable_progress_bar=false", "remove it \\(progress_refresh=0 hides"),
        pytest.param(
            "trainer.accelerator=gpu",
            "trainer: .*trainer=cpu runs on any machine",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"),
        ),
        (
            "data/distribution=power_law data.distribution.alpha=abc",
            "data.distribution.alpha=abc must be of type float",
        ),
        ("data/distribution=celebrities data.distribution.n=true", "n=True must be of type int"),
        ("schedule=warmup schedule.steps=1.5", "schedule.steps=1.5 must be of type int"),
        (
            "schedule=piecewise schedule.pieces=[{step:0},"
            "{step:9,distribution:{name:uniform,x:0}}]",
            r"^schedule.pieces\[1\].distribution: uniform takes no parameters",
        ),
        # a key that `+` forces in is refused, not ignored
        ("+foo=1", "unknown key foo: the train config has no such key"),
        ("+callbacks.attention.every=3", "unknown key callbacks.attention.every"),
        ("eval.spacing=cubic", "eval.spacing"),
        ("data.n_individuals=abc", "data.n_individuals=abc: Value 'abc' of type 'str' could not"),
        ("optim.lr=fast", "optim.lr=fast: Value 'fast' of type 'str' could not be converted"),
        ("optim.lr=null", "optim.lr=null: field 'optim.lr' is not Optional"),
        ("optim.betas=[0.9]", r"optim.betas=\[0.9\] must be two numbers in \[0, 1\)"),
        ("optim.betas=[2,0.9]", r"optim.betas=\[2.0, 0.9\] must be two numbers in \[0, 1\)"),
        ("optim.weight_decay=-0.1", "optim.weight_decay=-0.1 must be >= 0"),
        ("data.frequency_buckets=abc", "data.frequency_buckets=abc: Invalid value assigned"),
        ("data.frequency_buckets=[0.1]", "must be two rank quantiles"),
        ("eval.every=often", "eval.every=often: Value 'often' of type 'str' could not"),
        ("phases.patience=1.5", "phases.patience=1.5: Value '1.5' of type 'float' could not"),
        ("model.n_layer=two", "model.n_layer=two: Value 'two' of type 'str' could not"),
        ("callbacks.attention.enabled=maybe", "enabled=maybe: Value 'maybe' is not a valid bool"),
        ("data.colour=red", "Could not override 'data.colour'"),
        ("seeds=[a,b]", "seeds=\\[a,b\\]: Value 'a' of type 'str' could not"),
        ("eval_batch_size=0", "eval_batch_size=0 must be a positive integer"),
        ("patching.step=late", "patching.step=late: Value 'late' of type 'str' could not"),
    ],
)
def test_bad_configs_fail_validation_with_one_clear_message(make_cfg, override, message):
    with pytest.raises(ConfigError, match=message):
        validate(make_cfg(*override.split()))


@pytest.mark.parametrize(
    ("config", "override"), [("finetune", "+ckpt_path=x"), ("generate", "+n_individuals=5")]
)
def test_every_config_refuses_a_key_its_schema_lacks(config, override):
    key = override.lstrip("+").split("=")[0]
    with pytest.raises(ConfigError, match=f"unknown key {key}: the {config} config has no"):
        train_config(config, [override])


def test_unwritable_or_used_run_folder(make_cfg, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot write the run folder"):
        prepare_run_folder(make_cfg(f"run_dir={blocker}/run"))
    used = tmp_path / "used"
    used.mkdir()
    (used / "metrics.csv").write_text("step\n")
    with pytest.raises(ConfigError, match="already exists"):
        prepare_run_folder(make_cfg(f"run_dir={used}"))
    with pytest.raises(ConfigError, match="already exists and is not an empty folder"):
        prepare_run_folder(make_cfg(f"run_dir={blocker}"))


def test_missing_checkpoint(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match="checkpoint not found"):
        prepare_run_folder(make_cfg(f"ckpt_path={tmp_path}/nope.ckpt"))


def test_resume_applies_scalar_overrides_but_not_group_switches(make_cfg):
    saved = make_cfg()
    cfg = resume_config(saved, ["ckpt_path=/x/last.ckpt", "trainer.max_steps=99"])
    assert cfg.trainer.max_steps == 99 and cfg.ckpt_path == "/x/last.ckpt"
    with pytest.raises(ConfigError, match="cannot switch the config group 'model'"):
        resume_config(saved, ["model=paper"])
    with pytest.raises(ConfigError, match="a resumed run stays in the folder of its checkpoint"):
        resume_config(saved, ["ckpt_path=/x/last.ckpt", "run_dir=/elsewhere"])


def test_command_line_error_is_one_line_and_leaves_nothing(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from recall.train import main; main()",
            "data.n_individuals=0",
            f"run_dir={run_dir}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "recall-train: error: data.n_individuals=0 must be positive"
    ]
    assert not run_dir.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["foo=1"], "Could not override 'foo'. To append to your config use +foo=1"),
        (["model=huge"], "Could not find 'model/huge'; available options in 'model': paper, tiny"),
        (["data=nope"], "available options in 'data': default"),
        (["data.n_individuals=[1"], "cannot parse an override: no viable alternative"),
    ],
)
def test_what_hydra_rejects_is_one_line_and_exit_2(capsys, tmp_path, argv, message):
    with pytest.raises(SystemExit) as exit_:
        checked_command_line("recall-train", "train", [*argv, f"run_dir={tmp_path / 'run'}"])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("recall-train: error: ") and message in lines[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("main", "argv", "message"),
    [
        (reproduce.main, ["--seeds", "0"], "--seeds must be at least 1"),
        pytest.param(
            reproduce.main,
            ["--accelerator", "gpu"],
            "--accelerator gpu: torch sees no GPU on this machine",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"),
        ),
        (plot.main, [], "the following arguments are required: folder"),
        (compare.main, ["--nope", "x"], "unrecognized arguments: --nope"),
        (analyze.main, [], "the following arguments are required"),
        (export.main, [], "the following arguments are required"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(capsys, main, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and ": error: " in lines[0] and message in lines[0]
    assert lines[0].endswith("--help)")


def test_only_ddp_over_several_devices_launches_processes(monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    ddp_cpu = train_config("train", ["trainer=ddp_cpu"]).trainer
    assert launches_processes(ddp_cpu)
    assert not launches_processes(train_config("train").trainer)
    assert not launches_processes(OmegaConf.merge(ddp_cpu, {"devices": 1}))
    monkeypatch.setenv("SLURM_JOB_ID", "1")  # srun starts the processes there
    assert not launches_processes(ddp_cpu)


def test_a_registered_function_s_parameters_are_checked_by_their_annotations():
    """Optional and unannotated parameters of a distribution or schedule are not refused."""

    def shape(first: int, a: int | None, b: Any, c, d: float) -> tuple:  # noqa: ANN001
        return first, a, b, c, d

    registry = {"shape": shape}
    spec = {"name": "shape", "a": None, "b": "x", "c": [1], "d": 2}
    assert call_registered(registry, spec, "data.distribution", 0) == (0, None, "x", [1], 2)
    with pytest.raises(ConfigError, match=r"^data.distribution.a=s must be of type int \| None"):
        call_registered(registry, {**spec, "a": "s"}, "data.distribution", 0)
