"""Run folders: claimed atomically, never shared, never left half-written."""

import json

import pytest

from recall.config import compose
from recall.errors import ConfigError
from recall.fitting import prepare_run_folder
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
    with pytest.raises(ConfigError, match="already exists and is not empty"):
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
