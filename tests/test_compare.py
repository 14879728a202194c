"""Sweeps through Hydra multirun, and their side-by-side comparison."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from recall.compare import format_table, left_out, main, steps_to, varied_parameters
from recall.power_law import fit_power_law
from recall.runs import RunFolder
from tests.conftest import THREE_ATTRIBUTES, TINY_RUN


def test_power_law_fit_recovers_the_exponent():
    n = np.array([4e3, 8e3, 16e3, 32e3, 64e3, 128e3])
    noise = np.exp(np.random.default_rng(0).normal(0, 0.02, len(n)))
    fit = fit_power_law(n, 0.43 * n**0.81 * noise)
    assert fit.b == pytest.approx(0.81, abs=0.03)
    assert fit.a == pytest.approx(0.43, rel=0.3)
    assert 0.99 < fit.r2 <= 1
    assert fit_power_law([1e3, 2e3], [10, 20]) is None  # two sizes fit anything


def test_the_fit_names_the_sizes_it_leaves_out():
    """A run with no onset has no plateau length to fit; the table says so, and whether it
    stopped or is still running."""
    ends = {1000: (400, True), 2000: (800, True), 4000: (1500, True), 8000: (None, False)}
    rows = [
        {"run": f"r{n}", "n_individuals": n, "plateau_length": onset, "final_step": 2000,
         "finished": finished}
        for n, (onset, finished) in ends.items()
    ]  # fmt: skip
    fit = fit_power_law([1000, 2000, 4000], [400, 800, 1500])
    assert left_out(rows) == [{"n_individuals": 8000, "final_step": 2000, "finished": False}]
    assert format_table(rows, fit).splitlines()[-1] == (
        "  left out of the fit: N=8000, no onset by step 2000 (run not finished)"
    )


def test_steps_to_accuracy_targets():
    steps, acc = np.array([0, 50, 100, 150]), np.array([0.0, 0.2, 0.6, 0.95])
    assert steps_to(steps, acc, 0.5) == 100
    assert steps_to(steps, acc, 0.9) == 150
    assert steps_to(steps, acc, 0.99) is None


def test_varied_parameters_ignore_paths_and_keep_differences():
    a = {"run_dir": "x", "data": {"n_individuals": 10, "batch_size": 32}, "seed": 0}
    b = {"run_dir": "y", "data": {"n_individuals": 20, "batch_size": 32}, "seed": 0}
    assert varied_parameters([a, b]) == ["data.n_individuals"]


def multirun(folder, *overrides: str, max_steps: int = 200) -> str:
    """Launch a two-job sweep over population sizes from the command line; its stdout."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from recall.train import main; main()",
            "-m",
            *TINY_RUN,
            *THREE_ATTRIBUTES,
            "data.n_individuals=30,40",
            f"trainer.max_steps={max_steps}",
            "eval.every=25",
            "callbacks=none",
            f"hydra.sweep.dir={folder}",
            *overrides,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_a_failed_job_is_reported_and_the_sweep_goes_on(tmp_path):
    command = [sys.executable, "-c", "from recall.train import main; main()", "-m", *TINY_RUN]
    result = subprocess.run(
        [
            *command,
            "data.n_individuals=-5,40",  # job 0 cannot start; job 1 can
            "trainer.max_steps=20",
            "callbacks=none",
            f"hydra.sweep.dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1
    failure = "job 0 (data.n_individuals=-5 "
    lines = [ln for ln in result.stderr.splitlines() if failure in ln]
    assert len(lines) == 2  # when it fails, and again in the sweep's summary
    assert all(ln.endswith("failed: data.n_individuals=-5 must be positive") for ln in lines)
    assert RunFolder(tmp_path / "1").finished
    assert (tmp_path / "0.failed").is_file() and not RunFolder(tmp_path / "0").finished
    assert (tmp_path / "summary.csv").read_text().count("\n") == 2  # header and job 1


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep") / "multirun"
    return folder, multirun(folder)


@pytest.mark.slow
def test_parallel_launcher_runs_every_job(tmp_path):
    multirun(tmp_path, "hydra/launcher=local", "threads=1", max_steps=50)
    assert RunFolder(tmp_path / "0").finished and RunFolder(tmp_path / "1").finished
    assert (tmp_path / "summary.csv").read_text().count("\n") == 3


def test_multirun_writes_one_folder_per_job_and_a_summary(sweep):
    folder, stdout = sweep
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["0", "1"]
    for job in ("0", "1"):
        assert RunFolder(folder / job).finished
    with (folder / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["n_individuals"] for r in rows] == ["30", "40"]
    assert (folder / "comparison.png").stat().st_size > 10_000
    assert "sweep summary" in stdout and "plateau_length" in stdout


def test_summary_numbers_come_from_the_runs_metrics(sweep):
    folder, _ = sweep
    with (folder / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        run = RunFolder(folder / row["run"].rsplit("/", 1)[-1])
        steps, acc = run.curve("seen/attr_acc")
        assert float(row["final_attr_acc"]) == pytest.approx(acc[-1], abs=1e-4)
        expected = steps_to(steps, acc, 0.5)
        assert row["steps_to_50"] == ("" if expected is None else str(expected))
        _, tail = run.curve("seen/attr_acc/tail")
        assert float(row["final_acc_tail"]) == pytest.approx(tail[-1], abs=1e-4)


def test_compare_cli_on_run_folders(sweep, tmp_path, capsys):
    folder, _ = sweep
    out = tmp_path / "out"
    out.mkdir()
    for name in ("interference.png", "power_law.json"):  # an earlier comparison's
        (out / name).write_text("stale")
    main([str(folder / "0"), str(folder / "1"), "-o", str(out)])
    assert (out / "summary.csv").is_file()
    assert "n_individuals" in capsys.readouterr().out
    assert not (out / "interference.png").exists()  # training runs have no interference
    fitted = out / "power_law.json"  # this comparison's fit, or none
    assert fitted.is_file() == (out / "plateau_vs_n.png").is_file()
    assert not fitted.is_file() or "b" in json.loads(fitted.read_text())


def test_compare_cli_error_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "from recall.compare import main; main()", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"recall-compare: error: no run folders (with config.yaml) under {tmp_path}"
    ]
