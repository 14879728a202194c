"""The reproduction runner on tiny runs: plan, seeds, report, failures, resuming."""

from __future__ import annotations

import json
import re

import pytest
import torch
from omegaconf import OmegaConf

from recall.cli import ArgumentParser
from recall.config import compose
from recall.findings import FINDINGS
from recall.findings.forgetting import Forgetting
from recall.findings.measures import setting
from recall.findings.patching_late import LATE, PatchingLate
from recall.findings.replay_final import ReplayFinal
from recall.findings.shared_runs import REFERENCE
from recall.findings.three_phases import ThreePhases
from recall.findings.warmup import Warmup
from recall.reproduce import chosen, judge, main, make_plan, on_accelerator, reproduce, run_folder
from recall.runs import RunFolder
from tests.conftest import THREE_ATTRIBUTES, TINY_RUN, assert_judged_from_its_seeds

FINETUNE = ["new_individuals=20", "n_eval=20", "drift_biographies=8", "trainer.max_steps=30",
            "eval.every=10", "progress_refresh=0"]  # fmt: skip
WARMUP = ["data.n_individuals=40", "trainer.max_steps=80"]
SIZED = ["trainer.max_steps=120"]
TINY = {
    "train": [*TINY_RUN, *THREE_ATTRIBUTES, "eval.every=20"],
    "finetune": FINETUNE,
    # on three attributes the tiny reference leaves its plateau near step 150
    "reference": ["trainer.max_steps=250", "eval.every=25", "checkpoint.every_n_steps=50"],
    **{f"size_{n}": [*SIZED, f"data.n_individuals={k}"]
       for n, k in ((250, 20), (500, 40), (1000, 80), (2000, 160))},
    "power_law_1000": [*SIZED, "data.n_individuals=80"],
    "power_law_2000": [*SIZED, "data.n_individuals=160"],
    "celebrities": [*SIZED, "data.n_individuals=160", "data.distribution.n=8"],
    "warmup_uniform": WARMUP,
    "warmup": [*WARMUP, "schedule.individuals=10", "schedule.steps=20"],
    "warmup_subset_alone": [*WARMUP, "schedule.individuals=10"],
    **{f"patching_{k}": ["trainer.max_steps=60"]
       for k in ("late", "untrained", "early")},
}  # fmt: skip


def test_plan_makes_each_run_once_per_seed_after_what_it_needs():
    plan = make_plan(FINDINGS, seeds=3)
    keys = [(run.label, seed) for run, seed in plan]
    assert len(keys) == len(set(keys))
    assert {s for label, s in keys if label == "reference"} == set(range(5))  # phases: 5
    assert {s for label, s in keys if label == "size_2000"} == set(range(5))  # scaling: 5
    assert {s for label, s in keys if label == "warmup"} == set(range(3))
    for i, (run, seed) in enumerate(plan):
        for needed in run.needs:
            assert keys.index((needed.label, seed)) < i
    assert keys[: len({label for label, _ in keys})] == [
        (k, 0) for k, _ in keys[: len(set(label for label, _ in keys))]
    ]  # fmt: skip  (seed 0 of everything comes first)
    assert {s for _, s in make_plan(FINDINGS, seeds=1)} == {0}  # a quick look: one seed


def test_a_finding_alone_plans_the_runs_it_reads():
    plan = make_plan([PatchingLate()], seeds=3)  # reads the reference, run by other findings
    keys = [(run.label, seed) for run, seed in plan]
    assert keys == [(label, s) for s in range(3) for label in ("reference", "patching_late")]


def test_on_a_gpu_every_run_changes_its_device_alone():
    scale = on_accelerator(TINY, "gpu")
    for entry, extra in (("train", []), ("finetune", ["start=runs/x"])):
        on_gpu = compose(entry, [*scale[entry], *extra]).trainer
        on_cpu = compose(entry, [*TINY[entry], *extra]).trainer
        assert on_gpu.accelerator == "gpu" and on_cpu.accelerator == "cpu"
        assert {**on_gpu, "accelerator": "cpu"} == {**on_cpu}  # same precision, steps, ...
    assert scale["reference"] == TINY["reference"]


@pytest.fixture(scope="module")
def quick_look(tmp_path_factory):
    """Every finding on one seed of tiny runs."""
    out = tmp_path_factory.mktemp("quick")
    return reproduce(out, seeds=1, scale=TINY)


def test_quick_look_reports_every_finding_with_its_figures(quick_look):
    out = quick_look.parent
    rows = json.loads((out / "findings.json").read_text())
    assert [r["id"] for r in rows] == [f.id for f in FINDINGS]
    for row in rows:
        assert {
            "id",
            "verdict",
            "threshold",
            "effect",
            "per_seed",
            "mean",
            "ci95",
            "wall_s",
        } <= set(row)
        assert row["verdict"] == "inconclusive"  # one seed has no interval
        assert row["ci95"] == [None, None]
    text = quick_look.read_text()
    assert "0 hold, 0 fail, 15 inconclusive" in text
    assert f"({torch.backends.cpu.get_cpu_capability()}), " in text  # AVX2 or AVX512: 2x
    shown = re.findall(r"\]\(figures/(\w+)\.png\)", text)
    assert {"three_phases", "attribute_to_name", "hallucination", "imbalance", "warmup",
            "patching_late", "imbalance_buckets", "replay_final"} <= set(shown)  # fmt: skip
    for name in shown:
        assert (out / "figures" / f"{name}.png").stat().st_size > 5_000
        assert (out / "figures" / f"{name}.pdf").is_file()


def test_effects_are_read_from_the_runs_own_files(quick_look):
    """Recompute two effects from the runs' phases.json, independently of the findings."""
    out = quick_look.parent
    rows = {r["id"]: r for r in json.loads((out / "findings.json").read_text())}
    acc = {
        label: json.loads((run_folder(out, label, 0).phases).read_text())["final_attr_acc"]
        for label in ("warmup", "warmup_uniform", "warmup_subset_alone")
    }
    expected = acc["warmup"] - max(acc["warmup_uniform"], acc["warmup_subset_alone"])
    assert rows["warmup"]["per_seed"]["0"] == pytest.approx(expected, abs=1e-6)
    ref = json.loads(run_folder(out, "reference", 0).phases.read_text())
    if ref["knowledge_onset_step"] is not None:
        assert (
            f"knowledge onset {ref['knowledge_onset_step']}" in rows["three_phases"]["details"]["0"]
        )


def test_twins_read_for_their_plateau_alone_end_at_onset(quick_look):
    out = quick_look.parent
    for label, until_onset in (("late", True), ("early", False), ("untrained", False)):
        run = run_folder(out, f"patching_{label}", 0)
        assert setting(run, "stop_at_onset") is until_onset, label


def test_the_late_twin_trains_as_its_reference_does_patterns_aside(tmp_path):
    """The reference is the late twin's control: as planned (unscaled), their configs
    differ in nothing that shapes training (tests/test_patching.py: nor do the callbacks)."""
    reference = RunFolder(tmp_path / "reference")
    reference.checkpoints.mkdir(parents=True)
    for step in (0, 100, 1300):
        (reference.checkpoints / f"step{step:06d}.ckpt").touch()
    planned = compose("train", [*REFERENCE.resolve({}), "seed=0", f"run_dir={reference.path}"])
    OmegaConf.save(planned, reference.config)
    overrides = [*LATE.resolve({"reference": reference}), "seed=0"]
    twin = OmegaConf.to_container(compose("train", overrides))
    ref = OmegaConf.to_container(planned)
    differ = {key for key in ref.keys() | twin.keys() if ref.get(key) != twin.get(key)}
    assert differ == {"name", "run_dir", "callbacks", "patching", "stop_at_onset"}
    assert twin["trainer"]["max_steps"] == 1300 and twin["patching"]["step"] == 1300


def test_a_quick_look_continues_without_rerunning(quick_look):
    out = quick_look.parent
    kept = run_folder(out, "size_250", 0).metrics.stat().st_mtime_ns
    partial = run_folder(out, "patching_late", 0)
    partial.phases.unlink()  # as if interrupted before it finished
    reproduce(out, seeds=1, scale=TINY)
    assert run_folder(out, "size_250", 0).metrics.stat().st_mtime_ns == kept
    assert partial.finished


def test_a_seed_whose_runs_did_not_finish_is_reported_not_skipped(tmp_path):
    judged, first = judge(Warmup(), tmp_path, seeds=3, failed={})  # no run was made
    assert first is None and judged.verdict == "inconclusive"
    assert judged.failed_runs == [
        f"seed {s}: warmup, warmup_subset_alone, warmup_uniform not finished" for s in range(3)
    ]


def test_seeds_in_ensembles_give_intervals_and_a_failed_run_is_reported_while_others_go_on(
    tmp_path,
):
    findings = [ThreePhases(), Warmup(), Forgetting(), ReplayFinal()]
    for finding in findings:
        finding.min_seeds = 2  # the tiny test's budget; the real ones ask 3 or 5
    broken = {**TINY, "warmup_subset_alone": [*WARMUP, "schedule.individuals=0"]}  # invalid
    report = reproduce(tmp_path, seeds=2, findings=findings, scale=broken, ensemble=True)
    assert RunFolder(tmp_path / "runs" / "reference").is_ensemble  # both seeds in one model
    rows = {r["id"]: r for r in json.loads((tmp_path / "findings.json").read_text())}
    for finding_id in ("three_phases", "forgetting", "replay_final"):
        row = rows[finding_id]
        assert sorted(row["per_seed"]) == ["0", "1"]
        assert_judged_from_its_seeds(row)
    warmup = rows["warmup"]
    assert warmup["per_seed"] == {} and warmup["verdict"] == "inconclusive"
    assert len(warmup["failed_runs"]) == 2 and "warmup_subset_alone" in warmup["failed_runs"][0]
    text = report.read_text()
    assert "## Failed runs" in text and "schedule" in text.split("## Failed runs")[1]
    assert run_folder(tmp_path, "warmup", 1).finished  # the runs after the failure went on


def test_findings_option_plans_only_the_runs_of_the_named_findings(capsys):
    parser = ArgumentParser()
    picked = chosen("replay_final, celebrities", parser)
    assert [f.id for f in picked] == ["celebrities", "replay_final"]  # the report's order
    labels = {run.label for run, _ in make_plan(picked, seeds=3)}
    assert labels == {"size_2000", "celebrities", "reference", "finetune", "finetune_replay"}
    with pytest.raises(SystemExit):
        main(["--findings", "forgeting", "--out", "never_made"])
    assert "unknown id(s) forgeting; choose among three_phases" in capsys.readouterr().err
