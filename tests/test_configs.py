import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir

from recall.config import CONFIG_DIR
from recall.errors import ConfigError
from recall.train import prepare_run_folder, resume_config, validate

GROUPS = {
    g.name: sorted(p.stem for p in g.glob("*.yaml")) for g in CONFIG_DIR.iterdir() if g.is_dir()
}


@pytest.mark.parametrize("group,option", [(g, o) for g, opts in GROUPS.items() for o in opts])
def test_every_config_composes_and_validates(group, option):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        cfg = compose("train", overrides=[f"{group}={option}"])
    settings = validate(cfg)
    assert settings.max_steps > 0


def test_paper_experiment_matches_the_study():
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        cfg = compose("train", overrides=["experiment=paper"])
    assert (cfg.model.n_layer, cfg.model.d_model, cfg.model.n_head) == (8, 512, 8)
    assert cfg.data.batch_size == 128 and cfg.trainer.max_steps == 16000
    assert cfg.optim.lr == 4e-4 and list(cfg.optim.betas) == [0.9, 0.95]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.n_individuals=-5", "data.n_individuals=-5 must be positive"),
        ("data.batch_size=0", "data.batch_size=0 must be positive"),
        ("data.heldout_templates=30", "data.heldout_templates=30"),
        ("data.distribution=zipfian", "unknown distribution 'zipfian'"),
        ("+data.attributes.shoe_size=4", "unknown attribute 'shoe_size'"),
        ("data.last_names=2", "name pools too small"),
        ("+data.colour=red", "unknown key data.colour"),
        ("model.n_head=5", "divisible"),
        ("trainer.max_steps=0", "trainer.max_steps=0 must be positive"),
        ("eval.spacing=cubic", "eval.spacing"),
    ],
)
def test_bad_configs_fail_validation_with_one_clear_message(make_cfg, override, message):
    with pytest.raises(ConfigError, match=message):
        validate(make_cfg(override))


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


def test_missing_checkpoint(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match="checkpoint not found"):
        prepare_run_folder(make_cfg(f"ckpt_path={tmp_path}/nope.ckpt"))


def test_resume_applies_scalar_overrides_but_not_group_switches(make_cfg):
    saved = make_cfg()
    cfg = resume_config(saved, ["ckpt_path=/x/last.ckpt", "trainer.max_steps=99"])
    assert cfg.trainer.max_steps == 99 and cfg.ckpt_path == "/x/last.ckpt"
    with pytest.raises(ConfigError, match="cannot switch the config group 'model'"):
        resume_config(saved, ["model=paper"])


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
