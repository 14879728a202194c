"""`recall-reproduce`: every finding of the study at small scale, over seeds, into report.md.

recall-reproduce                        # 3 seeds (5 for the phases and plateau vs N)
recall-reproduce --seeds 1              # a quick look: one seed, no intervals
recall-reproduce --out reports/mine     # run again into the same folder: finished runs kept
recall-reproduce --findings forgetting,replay_final   # only these (after changing what they read)
recall-reproduce --accelerator gpu      # the same runs on a GPU (with --ensemble: seeds together)

Each finding (recall/findings/, one module each) names the runs it needs; this runner
makes each needed run once per seed, as an ordinary run folder <out>/runs/<label>/seed_<s>,
seed by seed so that a first look at every finding comes early. A run that fails is
reported and the others go on; a finding is judged on the seeds whose runs all finished.
Then <out>/report.md (verdicts, intervals, per-seed details, figures) and
<out>/findings.json.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import torch

from recall.cli import ArgumentParser, reported
from recall.config import compose
from recall.ensemble import stops_early, train_ensemble
from recall.findings import FINDINGS
from recall.findings.base import Finding, Judged, Measurement, PlannedRun
from recall.findings.report import machine, write_findings_json, write_report
from recall.finetune import finetune
from recall.fitting import quiet_lightning
from recall.plots.style import save
from recall.runs import RunFolder, check_output_folder
from recall.train import train

Plan = list[tuple[PlannedRun, int]]


def seeds_of(finding: Finding, seeds: int) -> range:
    """The seeds a finding is measured on: `seeds`, at least its own minimum, except for a
    one-seed quick look."""
    return range(seeds if seeds == 1 else max(seeds, finding.min_seeds))


def make_plan(findings: Sequence[Finding], seeds: int) -> Plan:
    """Every (run, seed) the findings need, once, seed by seed, each after the runs its
    overrides read."""
    plan: Plan = []

    def add(run: PlannedRun, seed: int) -> None:
        if (run, seed) in plan:
            return
        for needed in run.needs:
            add(needed, seed)
        plan.append((run, seed))

    for seed in range(max(len(seeds_of(f, seeds)) for f in findings)):
        for finding in findings:
            if seed in seeds_of(finding, seeds):
                for run in finding.runs():
                    add(run, seed)
    return plan


def run_folder(out: Path, label: str, seed: int) -> RunFolder:
    return RunFolder(out / "runs" / label / f"seed_{seed}")


def run_plan(
    plan: Plan,
    out: Path,
    scale: Mapping[str, Sequence[str]] | None = None,
    ensemble: bool = False,
) -> dict[tuple[str, int], str]:
    """Make every planned run not finished yet; the failed ones' reasons by (label, seed).
    `scale` appends overrides by entry ("train", "finetune") and then by label (tests use
    it to shrink every run). With `ensemble`, the seeds of a training run that reads no
    other run train together on stacked weights (recall.ensemble; for GPUs)."""
    scale = scale or {}
    failed: dict[tuple[str, int], str] = {}
    for i, (planned, seed) in enumerate(plan, 1):
        run = run_folder(out, planned.label, seed)
        where = f"recall-reproduce: [{i}/{len(plan)}] {planned.label} seed {seed}"
        if run.finished:
            print(f"{where}: finished, kept", flush=True)
            continue
        if (planned.label, seed) in failed:
            continue  # failed with the seeds it was trained together with
        missing = [r.label for r in planned.needs if (r.label, seed) in failed]
        if missing:
            failed[planned.label, seed] = f"needs {', '.join(missing)}, which failed"
            print(f"{where}: skipped, {failed[planned.label, seed]}", flush=True)
            continue
        seeds = [s for r, s in plan if r == planned]
        together = ensemble and planned.entry == "train" and not planned.needs and len(seeds) > 1
        if together and any(run_folder(out, planned.label, s).finished for s in seeds):
            together = False  # some seeds finished alone: the rest go alone too
        try:
            seed_runs = {r.label: run_folder(out, r.label, seed) for r, s in plan if s == seed}
            overrides = [
                *planned.resolve(seed_runs),
                *scale.get(planned.entry, ()),
                *scale.get(planned.label, ()),
            ]
            cfg = compose(planned.entry, [*overrides, f"seed={seed}", f"run_dir={run.path}"])
            if together and not stops_early(cfg):
                folder = run.path.parent
                seeding = f"seeds=[{','.join(map(str, seeds))}]"
                cfg = compose("train", [*overrides, seeding, f"run_dir={folder}"])
            else:
                together, folder = False, run.path
            shared = f" (seeds {', '.join(map(str, seeds))} together)" if together else ""
            print(f"{where}{shared}: {planned.purpose}", flush=True)
            shutil.rmtree(folder, ignore_errors=True)  # an interrupted run starts over
            if planned.entry == "finetune":
                finetune(cfg)
            elif together:
                train_ensemble(cfg)
            else:
                train(cfg)
        except Exception as error:  # reported in the table; the other runs go on
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
            for s in seeds if together else [seed]:
                failed[planned.label, s] = reason
            print(f"{where}: failed: {reason}", flush=True)
    return failed


def judge(
    finding: Finding, out: Path, seeds: int, failed: Mapping[tuple[str, int], str]
) -> tuple[Judged, int | None]:
    """The finding over the seeds whose runs all finished; and the first such seed."""
    measured: dict[int, Measurement] = {}
    problems: list[str] = []
    labels = finding.labels()
    for seed in seeds_of(finding, seeds):
        if broken := [f"{label} seed {seed}: {failed[label, seed]}" for label in sorted(labels)
                      if (label, seed) in failed]:  # fmt: skip
            problems += broken
            continue
        runs = {label: run_folder(out, label, seed) for label in labels}
        if unfinished := sorted(label for label, run in runs.items() if not run.finished):
            problems.append(f"seed {seed}: {', '.join(unfinished)} not finished")
            continue
        try:
            measured[seed] = finding.measure(runs)
        except Exception as error:
            problems.append(f"seed {seed}: measuring failed: {type(error).__name__}: {error}")
    judged = finding.judge(measured)
    judged.failed_runs = problems
    judged.wall_s = sum(
        wall_time(run_folder(out, r.label, seed)) for r in finding.runs() for seed in measured
    )
    return judged, min(measured, default=None)


def wall_time(run: RunFolder) -> float:
    summary = run.phases if run.phases.exists() else run.interference
    return float(run.read_json(summary).get("wall_time_s", 0.0)) if summary.exists() else 0.0


def on_accelerator(
    scale: Mapping[str, Sequence[str]] | None, accelerator: str
) -> dict[str, list[str]]:
    """`scale` with every run, trained or fine-tuned, on `accelerator` (cpu, gpu): the same
    configs and numerics (32-bit) on another device."""
    scale = {key: list(value) for key, value in (scale or {}).items()}
    for entry in ("train", "finetune"):
        scale[entry] = [f"trainer.accelerator={accelerator}", *scale.get(entry, ())]
    return scale


def reproduce(
    out: Path,
    seeds: int = 3,
    findings: Sequence[Finding] = FINDINGS,
    scale: Mapping[str, Sequence[str]] | None = None,
    ensemble: bool = False,
    accelerator: str = "cpu",
) -> Path:
    """Run what the findings need into `out`, judge them, write report.md; its path."""
    started = time.perf_counter()
    plan = make_plan(findings, seeds)
    failed = run_plan(plan, out, on_accelerator(scale, accelerator), ensemble)
    judged, captions = [], {}
    for finding in findings:
        row, first_seed = judge(finding, out, seeds, failed)
        judged.append(row)
        if first_seed is not None:
            runs = {label: run_folder(out, label, first_seed) for label in finding.labels()}
            for stem, (fig, caption) in finding.figures(runs).items():
                save(fig, out / "figures" / stem)
                captions[f"{stem}.png"] = caption
    seeds_by_label: dict[PlannedRun, list[int]] = {}
    for planned, seed in plan:
        seeds_by_label.setdefault(planned, []).append(seed)
    timing = {
        "date": datetime.now().strftime("%Y-%m-%d"),
        "machine": machine(accelerator),
        "seeds": seeds,
        "n_runs": len(plan),
        "compute_s": sum(wall_time(run_folder(out, r.label, s)) for r, s in plan),
        "elapsed_s": time.perf_counter() - started,
        "runs": [
            (
                planned.label,
                planned.purpose,
                ", ".join(map(str, ss)),
                sum(wall_time(run_folder(out, planned.label, s)) for s in ss),
            )
            for planned, ss in seeds_by_label.items()
        ],
        "failed": [f"{label} seed {seed}: {why}" for (label, seed), why in failed.items()],
    }
    write_findings_json(out, judged)
    return write_report(out, judged, captions, timing)


def chosen(ids: str, parser: ArgumentParser) -> tuple[Finding, ...]:
    """The findings named in `ids` (comma-separated), in the report's order."""
    wanted = {i.strip() for i in ids.split(",") if i.strip()}
    known = [f.id for f in FINDINGS]
    unknown = sorted(wanted.difference(known))
    if unknown or not wanted:
        named = f"unknown id(s) {', '.join(unknown)}" if unknown else "no id given"
        parser.error(f"--findings: {named}; choose among {', '.join(known)}")
    return tuple(f for f in FINDINGS if f.id in wanted)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point."""
    parser = ArgumentParser(
        prog="recall-reproduce",
        description="Reproduce every finding of the study at small scale into report.md.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("reports") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S"),
        help="report folder (default reports/<date_time>); an existing one is continued",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=3,
        help="seeds per finding (default 3; the phases and plateau vs N take at least 5); "
        "1 for a quick look without intervals",
    )
    parser.add_argument(
        "--ensemble",
        action="store_true",
        help="train the seeds of each run together on stacked weights (faster on a GPU; "
        "on a 2-core CPU about 0.9x)",
    )
    parser.add_argument(
        "--accelerator",
        choices=("cpu", "gpu"),
        default="cpu",
        help="where every run trains (trainer.accelerator), in 32-bit either way",
    )
    parser.add_argument(
        "--findings",
        type=str,
        default=None,
        help="comma-separated ids of the findings to reproduce (default: all of them), "
        "e.g. forgetting,replay_final; the report holds only these",
    )
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    findings = FINDINGS if args.findings is None else chosen(args.findings, parser)
    if args.accelerator == "gpu" and not torch.cuda.is_available():
        parser.error("--accelerator gpu: torch sees no GPU on this machine; leave it out")
    quiet_lightning()
    with reported("recall-reproduce", f"run it again with --out {args.out} to continue"):
        check_output_folder(args.out, "--out", "reproduction")
        args.out.mkdir(parents=True, exist_ok=True)
        report = reproduce(
            args.out, args.seeds, findings, ensemble=args.ensemble, accelerator=args.accelerator
        )
    print(report.read_text().split("## Each finding")[0])
    print(f"recall-reproduce: report in {report}")
