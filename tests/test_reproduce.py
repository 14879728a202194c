"""The reproduction report: criteria on known numbers, and the whole pipeline on tiny runs."""

from __future__ import annotations

import json
import re

import pytest

from recall.phases import PhaseConfig, Phases
from recall.reproduce import (
    PLAN,
    PlannedRun,
    circuit_rise_holds,
    criterion,
    early_patterns_holds,
    late_patterns_holds,
    plateau_scaling_holds,
    replay_holds,
    reproduce,
    three_phases_holds,
    warmup_holds,
)
from recall.runs import RunFolder
from tests.conftest import TINY_RUN


def test_plan_covers_every_label_the_report_reads():
    labels = [p.label for p in PLAN]
    assert len(labels) == len(set(labels))
    assert {"reference", "finetune", "finetune_replay", "warmup", "warmup_control"} <= set(labels)
    assert sum(label.startswith("size_") for label in labels) >= 3  # a power law needs 3 sizes


def test_criteria_on_known_numbers():
    phases = Phases(5.0, 200, 400, PhaseConfig())
    assert three_phases_holds(phases, plateau_acc=0.01, final_acc=0.9)
    assert not three_phases_holds(phases, plateau_acc=0.2, final_acc=0.9)
    assert not three_phases_holds(Phases(5.0, 200, None, PhaseConfig()), 0.0, 0.9)
    # plateau = 0.1·N: exponent 1 is within 0.3 of the study's 0.81; 1.2 is not
    assert plateau_scaling_holds([100, 200, 400], r2=1.0, b=1.0)
    assert not plateau_scaling_holds([100, 200, 400], r2=1.0, b=1.2)
    assert not plateau_scaling_holds([100, 300, 200], r2=0.99, b=0.8)  # not monotone
    assert not plateau_scaling_holds([100, None, 400], r2=0.99, b=0.8)
    assert circuit_rise_holds((0.3, 0.6), (0.5, 0.2))
    assert not circuit_rise_holds((0.3, 0.45), (0.5, 0.2))
    assert late_patterns_holds(175, 350) and not late_patterns_holds(300, 350)
    assert not late_patterns_holds(None, 350)
    assert early_patterns_holds(0.07, 0.3) and not early_patterns_holds(0.3, 0.3)
    assert warmup_holds(0.25, 0.07) and not warmup_holds(0.12, 0.07)
    assert replay_holds(0.82, 0.07, 0.93) and not replay_holds(0.92, 0.07, 0.93)
    assert criterion(warmup_holds) == (
        "Warm-up ends with at least twice the control's accuracy and 0.1 more."
    )


TRAIN = [*TINY_RUN, "eval.every=20"]
PATCHED = ["experiment=patching", *TRAIN, "trainer.max_steps=60"]
TINY_PLAN = (
    PlannedRun(
        "reference", "train", (*TRAIN, "trainer.max_steps=200", "checkpoint.every_n_steps=20"), ""
    ),
    *(
        PlannedRun(f"size_{n}", "train", ("experiment=plateau_vs_n", *TRAIN,
                   "trainer.max_steps=120", f"data.n_individuals={n}"), "")
        for n in (20, 40, 80)
    ),
    *(
        PlannedRun(f"imbalance_alpha_{a}", "train", ("experiment=imbalance", *TRAIN,
                   "trainer.max_steps=80", f"data.distribution.alpha={a}"), "")
        for a in (0, 0.6)
    ),
    PlannedRun("warmup_control", "train",
               ("experiment=warmup", "schedule=constant", *TRAIN, "trainer.max_steps=80"), ""),
    PlannedRun("warmup", "train", ("experiment=warmup", *TRAIN, "trainer.max_steps=80",
               "schedule.individuals=10", "schedule.steps=20"), ""),
    *(
        PlannedRun(label, "finetune", ("start={reference}", "new_individuals=20", "n_eval=20",
                   "drift_biographies=8", "trainer.max_steps=30", "eval.every=10",
                   "progress_refresh=0", *extra), "")
        for label, extra in (("finetune", ("control=true",)), ("finetune_replay", ("replay=1",)))
    ),
    PlannedRun("patching_control", "train", tuple(PATCHED), ""),
    *(
        PlannedRun(label, "train", (*PATCHED, "patching.run={reference}",
                   f"patching.step={step}"), "")
        for label, step in (("patching_untrained", 0), ("patching_early", 20),
                            ("patching_late", 200))
    ),
)  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return reproduce(out, TINY_PLAN)


def test_report_has_a_computed_row_per_finding_and_its_figures(report):
    out = report.parent
    text = report.read_text()
    rows = json.loads((out / "findings.json").read_text())["findings"]
    assert len(rows) == 13
    table = [line for line in text.splitlines() if line.startswith("| ") and "holds?" not in line]
    verdicts = [line.rsplit("|", 2)[1].strip() for line in table[: len(rows)]]
    assert verdicts == ["yes" if r["holds"] else "**no**" for r in rows]
    shown = re.findall(r"\]\(figures/(\w+)\.png\)", text)
    for name in shown:
        assert (out / "figures" / f"{name}.png").stat().st_size > 5_000
        assert (out / "figures" / f"{name}.pdf").is_file()
    # plateau_vs_n needs three runs that leave their plateau, which tiny runs may not do
    assert {"phases", "attention", "hallucination", "size_curves", "imbalance", "warmup",
            "patching", "imbalance_buckets", "finetuning"} <= set(shown)  # fmt: skip


def test_report_verdicts_follow_the_runs_own_summaries(report):
    """Recompute two verdicts from the runs' phases.json, independently of the report."""
    out = report.parent
    rows = {r["finding"]: r for r in json.loads((out / "findings.json").read_text())["findings"]}
    final = {
        label: RunFolder(out / "runs" / label).read_json(RunFolder(out / "runs" / label).phases)
        for label in ("reference", "warmup", "warmup_control")
    }
    expected = warmup_holds(
        final["warmup"]["final_attr_acc"], final["warmup_control"]["final_attr_acc"]
    )
    assert rows["warm-up curriculum"]["holds"] == expected
    ref = final["reference"]
    assert (
        f"knowledge onset at step {ref['knowledge_onset_step']}" in rows["three phases"]["measured"]
        or ref["knowledge_onset_step"] is None
    )


def test_report_continues_an_interrupted_folder_without_rerunning(report):
    out = report.parent
    kept = RunFolder(out / "runs" / "size_20").metrics.stat().st_mtime_ns
    partial = RunFolder(out / "runs" / "patching_late")
    partial.phases.unlink()  # as if interrupted before it finished
    reproduce(out, TINY_PLAN)
    assert RunFolder(out / "runs" / "size_20").metrics.stat().st_mtime_ns == kept
    assert partial.finished
