"""Run folders: claimed atomically, never shared, never left half-written."""

import csv
import json

import pytest

from recall.config import compose
from recall.errors import ConfigError
from recall.fitting import prepare_run_folder
from recall.loggers import RunCSVLogger
from recall.runs import write_atomically


def test_runs_started_in_the_same_second_get_separate_folders(tmp_path):
    # ${now:%Y} resolves the same for both, as the default run_dir does within one second
    cfg = compose("train", [f"run_dir={tmp_path}/runs/${{now:%Y}}"])
    first, _ = prepare_run_folder(cfg)
    second, _ = prepare_run_folder(cfg)
    assert first.path != second.path
    assert second.path.name == f"{first.path.name}-1"
    assert first.path.is_dir() and second.path.is_dir()


def test_an_explicit_run_dir_in_use_is_refused(tmp_path):
    cfg = compose("train", [f"run_dir={tmp_path}/mine"])
    run, _ = prepare_run_folder(cfg)
    (run.path / "metrics.csv").write_text("step\n")
    with pytest.raises(ConfigError, match="already exists and is not an empty folder"):
        prepare_run_folder(cfg)


def test_atomic_write_replaces_whole_files_and_leaves_no_partial(tmp_path, monkeypatch):
    path = tmp_path / "phases.json"
    write_atomically(path, json.dumps({"step": 1}))
    write_atomically(path, json.dumps({"step": 2}))
    assert json.loads(path.read_text()) == {"step": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["phases.json"]

    def killed(*args):  # the process dies between writing and moving into place
        raise KeyboardInterrupt

    monkeypatch.setattr("recall.runs.os.replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, json.dumps({"step": 3}))
    assert json.loads(path.read_text()) == {"step": 2}  # the old file, whole


def test_metrics_csv_gains_columns_keeps_rows_and_resumes_after_a_torn_write(tmp_path):
    logger = RunCSVLogger(tmp_path)
    logger.log_hyperparams({"lr": 0.1})
    logger.log_metrics({"train/loss": 2.0}, step=9)
    logger.save()
    logger.log_metrics({"seen/attr_loss": 1.5, "seen/attr_acc": 0.25}, step=10)  # new columns
    logger.log_metrics({"train/loss": 1.0}, step=19)
    logger.finalize("success")
    with (tmp_path / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["9", "10", "19"]
    assert rows[0]["train/loss"] == "2.0" and rows[1]["seen/attr_acc"] == "0.25"
    assert (tmp_path / "hparams.yaml").read_text().strip() == "lr: 0.1"
    with (tmp_path / "metrics.csv").open("a") as f:
        f.write("0.5,0.3")  # a row cut short by a kill
    resumed = RunCSVLogger(tmp_path, resume_step=10)  # rows after the checkpoint dropped
    resumed.log_metrics({"train/loss": 0.9}, step=19)
    resumed.finalize("success")
    with (tmp_path / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["step"], r["train/loss"]) for r in rows] == [("9", "2.0"), ("10", ""), ("19", "0.9")]
    assert not list(tmp_path.glob(".*partial"))
