"""`recall-reproduce`: every finding of the study at small scale, measured into report.md.

recall-reproduce                        # about 45 min on a 2-core CPU, into reports/<date_time>/
recall-reproduce --out reports/mine     # run again into the same folder: finished runs are kept

Runs PLAN one run at a time, each an ordinary run folder under <out>/runs/<label>, then
writes <out>/report.md: a table finding | what the study reported | what this run measured |
holds?, where "holds" is computed from the runs by the criterion printed next to it (the
`*_holds` functions below, the only place the thresholds live), and the figures, also as
PDF, in <out>/figures/. <out>/findings.json holds the same rows for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from recall.cli import reported
from recall.config import compose
from recall.finetune import finetune, interference_summary
from recall.fitting import quiet_lightning
from recall.phases import Phases
from recall.plots.comparison import curves_figure, interference_comparison_figure, power_law_figure
from recall.plots.dynamics import (
    attention_figure,
    attention_layers,
    buckets_figure,
    hallucination_figure,
)
from recall.plots.phase_plot import phases_figure
from recall.plots.style import save
from recall.power_law import PowerLaw, fit_power_law
from recall.runs import RunFolder, write_atomically
from recall.train import train

REFERENCE = "reference"
SIZES = (250, 500, 1000, 2000)
PATCHING = {"patching_untrained": 0, "patching_early": 100, "patching_late": 800}
PATCHED_STEPS = 600  # twins are shorter than the reference: the comparison is of plateaus


@dataclass(frozen=True)
class PlannedRun:
    label: str  # its folder under <out>/runs
    entry: str  # "train" (recall-train) or "finetune" (recall-finetune)
    overrides: tuple[str, ...]  # "{reference}" stands for the reference run's folder
    purpose: str


PLAN: tuple[PlannedRun, ...] = (
    PlannedRun(
        REFERENCE,
        "train",
        ("checkpoint.every_n_steps=100",),
        "the default run: phases, circuits, hallucination; start of fine-tuning and patching",
    ),
    *(
        PlannedRun(
            f"size_{n}",
            "train",
            ("experiment=plateau_vs_n", f"data.n_individuals={n}"),
            "plateau length against N",
        )
        for n in SIZES
    ),
    *(
        PlannedRun(
            f"imbalance_alpha_{alpha}",
            "train",
            ("experiment=imbalance", "data.n_individuals=2000", f"data.distribution.alpha={alpha}"),
            "power-law sampling against uniform",
        )
        for alpha in (0, 0.6)
    ),
    PlannedRun(
        "warmup_control",
        "train",
        ("experiment=warmup", "schedule=constant"),
        "uniform sampling at N = 4000",
    ),
    PlannedRun(
        "warmup",
        "train",
        ("experiment=warmup", "schedule.individuals=250", "schedule.steps=300"),
        "250 individuals for 300 steps, then all 4000",
    ),
    PlannedRun(
        "finetune",
        "finetune",
        ("start={reference}", "control=true"),
        "fine-tuning on 1/16 as many new individuals, with its continued-pre-training control",
    ),
    PlannedRun(
        "finetune_replay",
        "finetune",
        ("start={reference}", "replay=1"),
        "the same, old individuals replayed",
    ),
    PlannedRun(
        "patching_control",
        "train",
        ("experiment=patching", f"trainer.max_steps={PATCHED_STEPS}"),
        "the twins' control: its own patterns",
    ),
    *(
        PlannedRun(
            label,
            "train",
            (
                "experiment=patching",
                f"trainer.max_steps={PATCHED_STEPS}",
                "patching.run={reference}",
                f"patching.step={step}",
            ),
            f"a twin with the reference's attention patterns of step {step}",
        )
        for label, step in PATCHING.items()
    ),
)


@dataclass(frozen=True)
class Finding:
    finding: str
    study: str  # what the study reported
    measured: str  # what this reproduction measured
    holds: bool
    criterion: str  # how `holds` was computed, in words


# ---- criteria: pure functions of measured numbers, one per finding -------------------


def three_phases_holds(phases: Phases, plateau_acc: float, final_acc: float) -> bool:
    """Both boundaries found, accuracy < 0.05 on the plateau, final accuracy ≥ 0.5."""
    found = phases.statistics_end_step is not None and phases.knowledge_onset_step is not None
    return found and (phases.plateau_steps or 0) > 0 and plateau_acc < 0.05 and final_acc >= 0.5


def plateau_scaling_holds(plateaus: Sequence[int | None], r2: float, b: float) -> bool:
    """Plateau grows with every larger N, a power law fits (R² ≥ 0.95), |b − 0.81| ≤ 0.3."""
    if any(p is None for p in plateaus):
        return False
    return bool(np.all(np.diff(plateaus) > 0)) and r2 >= 0.95 and abs(b - 0.81) <= 0.3


def circuit_rise_holds(to_name: tuple[float, float], to_text: tuple[float, float]) -> bool:
    """Last-layer attribute→name rises ≥ 0.2 over the plateau while attribute→text falls."""
    return to_name[1] - to_name[0] >= 0.2 and to_text[1] < to_text[0]


def name_circuit_holds(best_head: float) -> bool:
    """Some first-layer head puts ≥ 0.5 of its attention on the other name tokens."""
    return best_head >= 0.5


def late_patterns_holds(twin_onset: int | None, control_onset: int | None) -> bool:
    """Post-plateau patterns: knowledge onset at most 2/3 of the control's."""
    return None not in (twin_onset, control_onset) and twin_onset <= 2 / 3 * control_onset


def early_patterns_holds(early_acc: float, untrained_acc: float) -> bool:
    """Early-plateau patterns end with lower accuracy than untrained patterns."""
    return early_acc < untrained_acc


def imbalance_holds(
    onsets: tuple[int | None, int | None], head_acc: float, tail_acc: float
) -> bool:
    """Power law (α 0.6) leaves the plateau before uniform; its tail ends below its head."""
    uniform, power = onsets
    shorter = power is not None and (uniform is None or power < uniform)
    return shorter and tail_acc < head_acc


def warmup_holds(warmup_acc: float, control_acc: float) -> bool:
    """Warm-up ends with at least twice the control's accuracy and 0.1 more."""
    return warmup_acc >= 2 * control_acc and warmup_acc >= control_acc + 0.1


def hallucination_rise_holds(final_excess: float, correlation: float) -> bool:
    """Unseen loss ends ≥ 0.5 nats above the baseline and tracks seen accuracy (r ≥ 0.8)."""
    return final_excess >= 0.5 and correlation >= 0.8


def confidence_holds(seen: dict[str, float], unseen: dict[str, float]) -> bool:
    """Unseen answers are less confident and more uncertain than seen ones, and ≥ 10 % of
    them are still confident (max-prob > the hallucination threshold)."""
    return (
        unseen["max_prob"] < seen["max_prob"]
        and unseen["entropy"] > seen["entropy"]
        and unseen["hallucination_rate"] >= 0.1
    )


def forgetting_holds(steps_to_half: int | None, new_acc: float, old_acc_start: float) -> bool:
    """Old accuracy halves within 100 steps; new accuracy ends below half the old start."""
    return steps_to_half is not None and steps_to_half <= 100 and new_acc < old_acc_start / 2


def replay_holds(min_replay: float, min_plain: float, old_acc_start: float) -> bool:
    """Replay keeps more old accuracy than none, and still loses ≥ 0.05 of it."""
    return min_plain < min_replay <= old_acc_start - 0.05


def stable_attention_holds(differences: Sequence[float]) -> bool:
    """Every circuit metric (name → name, attribute → name, attribute → text, per layer)
    moves within 0.1 attention mass of what it moves in the continued-pre-training control."""
    return max(abs(d) for d in differences) <= 0.1


def judged(
    finding: str, study: str, measured: str, rule: Callable[..., bool], *numbers: Any
) -> Finding:
    """The finding with its verdict, `rule(*numbers)`, and the rule's criterion in words."""
    return Finding(finding, study, measured, bool(rule(*numbers)), criterion(rule))


def criterion(holds: Callable[..., bool]) -> str:
    return (holds.__doc__ or "").split("\n\n")[0].replace("\n    ", " ").strip()


# ---- measurements ---------------------------------------------------------------------


def at_step(run: RunFolder, metric: str, step: int) -> float:
    """The metric at the last evaluation at or before `step`."""
    steps, values = run.curve(metric)
    return float(values[np.searchsorted(steps, step, side="right") - 1])


def final(run: RunFolder, metric: str) -> float:
    return float(run.curve(metric)[1][-1])


def setting(run: RunFolder, key: str) -> Any:
    """A value of the run's resolved config, by dotted key."""
    return OmegaConf.select(OmegaConf.load(run.config), key)


def size_runs(runs: dict[str, RunFolder]) -> tuple[list[int], list[RunFolder]]:
    """The plateau-vs-N runs (labels size_*), by increasing N."""
    group = sorted(
        (setting(r, "data.n_individuals"), r) for k, r in runs.items() if k.startswith("size_")
    )
    return [n for n, _ in group], [r for _, r in group]


def _steps(step: int | None) -> str:
    return "never" if step is None else f"at step {step}"


def measure(runs: dict[str, RunFolder]) -> list[Finding]:
    """Every finding of DESIGN.md's table, measured on the plan's finished runs."""
    ref = runs[REFERENCE]
    phases = ref.detected_phases()
    s, o = phases.statistics_end_step, phases.knowledge_onset_step
    steps, acc = ref.curve("seen/attr_acc")
    on_plateau = acc[(steps >= (s or 0)) & (steps < (o or steps[-1] + 1))]
    plateau_acc = float(on_plateau.max()) if len(on_plateau) else float("nan")
    findings = [
        judged(
            "three phases",
            "loss falls fast to the no-knowledge baseline, sits on a plateau at accuracy ≈ 0, "
            "then drops as knowledge appears",
            f"statistics end {_steps(s)}, knowledge onset {_steps(o)} (plateau accuracy "
            f"≤ {plateau_acc:.2f}); final accuracy {acc[-1]:.2f}",
            three_phases_holds,
            phases,
            plateau_acc,
            float(acc[-1]),
        )
    ]
    findings += _scaling(runs)
    findings += _circuits(ref, phases)
    findings += _patching(runs)
    findings += _curricula(runs)
    findings += _hallucination(ref, phases)
    findings += _finetuning(runs)
    return findings


def _scaling(runs: dict[str, RunFolder]) -> list[Finding]:
    sizes, group = size_runs(runs)
    plateaus = [r.detected_phases().knowledge_onset_step for r in group]
    fit = _power_law(sizes, plateaus)
    a, b, r2 = (fit.a, fit.b, fit.r2) if fit else (float("nan"),) * 3
    sizes = " / ".join(map(str, sizes))
    shown = " / ".join("–" if p is None else str(p) for p in plateaus)
    return [
        judged(
            "plateau ∝ population",
            "plateau ≈ 0.43·N^0.81 steps (R² 0.998), N = 4k…256k, batch 128",
            f"plateau {shown} steps at N = {sizes}: "
            + (f"≈ {a:.2g}·N^{b:.2f} (R² {r2:.3f})" if fit else "no fit (< 3 plateaus ended)"),
            plateau_scaling_holds,
            plateaus,
            r2,
            b,
        )
    ]


def _power_law(sizes: Sequence[int], plateaus: Sequence[int | None]) -> PowerLaw | None:
    """The fit over the sizes whose plateau ended (None below 3, as fit_power_law says)."""
    ended = [i for i, p in enumerate(plateaus) if p]
    return fit_power_law([sizes[i] for i in ended], [plateaus[i] for i in ended])


def _circuits(ref: RunFolder, phases: Phases) -> list[Finding]:
    s, o = phases.statistics_end_step, phases.knowledge_onset_step
    layers = attention_layers(ref)
    last, first = layers[-1], layers[0]
    if s is None or o is None:
        to_name = to_text = (float("nan"), float("nan"))
    else:
        to_name = tuple(at_step(ref, f"attn/attr_to_name/layer{last}", t) for t in (s, o))
        to_text = tuple(at_step(ref, f"attn/attr_to_text/layer{last}", t) for t in (s, o))
    heads = [c for c in ref.columns(f"attn/name_to_name/layer{first}/head")]
    best = max(float(ref.curve(c)[1].max()) for c in heads)
    return [
        judged(
            "attribute → name attention forms during the plateau",
            "last-layer attention from the value-predicting position to the name rises across "
            "the plateau (≈ 0.3 → 0.9), attention to the rest of the text falls (≈ 0.1)",
            f"layer {last}: attribute → name {to_name[0]:.2f} → {to_name[1]:.2f}, → text "
            f"{to_text[0]:.2f} → {to_text[1]:.2f} (plateau start → end); "
            f"{final(ref, f'attn/attr_to_name/layer{last}'):.2f} and "
            f"{final(ref, f'attn/attr_to_text/layer{last}'):.2f} at the end",
            circuit_rise_holds,
            to_name,
            to_text,
        ),
        judged(
            "name → name attention forms in the first layer",
            "attention from the last name token to the other name tokens (first layer) forms "
            "in a few hundred steps",
            f"layer {first}: best head's name → name at most {best:.2f}",
            name_circuit_holds,
            best,
        ),
    ]


def _patching(runs: dict[str, RunFolder]) -> list[Finding]:
    twins = ("patching_control", *PATCHING)
    onset = {k: runs[k].detected_phases().knowledge_onset_step for k in twins}
    acc = {k: final(runs[k], "seen/attr_acc") for k in twins}
    step = {k: setting(runs[k], "patching.step") for k in PATCHING}
    late, control = onset["patching_late"], onset["patching_control"]
    length = setting(runs["patching_control"], "trainer.max_steps")
    return [
        judged(
            "attention patching: post-plateau patterns",
            "a twin trained with (stop-gradient) attention patterns from after the plateau "
            "has no plateau",
            f"knowledge onset {_steps(late)} with step-{step['patching_late']} patterns "
            f"against {_steps(control)} for the control ({length}-step twins)",
            late_patterns_holds,
            late,
            control,
        ),
        judged(
            "attention patching: early-plateau patterns",
            "patterns from early in the plateau are worse than untrained ones",
            f"final accuracy {acc['patching_early']:.2f} with step-"
            f"{step['patching_early']} patterns, {acc['patching_untrained']:.2f} with "
            f"untrained (step 0) ones, {acc['patching_control']:.2f} for the control; onsets "
            f"{_steps(onset['patching_early'])}, {_steps(onset['patching_untrained'])}, "
            f"{_steps(control)}",
            early_patterns_holds,
            acc["patching_early"],
            acc["patching_untrained"],
        ),
    ]


def _curricula(runs: dict[str, RunFolder]) -> list[Finding]:
    uniform, power = runs["imbalance_alpha_0"], runs["imbalance_alpha_0.6"]
    onsets = tuple(r.detected_phases().knowledge_onset_step for r in (uniform, power))
    head, tail = final(power, "seen/attr_acc/head"), final(power, "seen/attr_acc/tail")
    warmup, uniform_warmup = runs["warmup"], runs["warmup_control"]
    warm, control = final(warmup, "seen/attr_acc"), final(uniform_warmup, "seen/attr_acc")
    return [
        judged(
            "imbalance shortens the plateau",
            "sampling P(i) ∝ i^−α with α ≈ 0.6–0.8 gives the shortest plateau at every N; the "
            "tail is learned slower",
            f"N = {setting(power, 'data.n_individuals')}: knowledge onset "
            f"{_steps(onsets[1])} with α = {setting(power, 'data.distribution.alpha')} against "
            f"{_steps(onsets[0])} uniform; final accuracy head {head:.2f}, tail {tail:.2f}",
            imbalance_holds,
            onsets,
            head,
            tail,
        ),
        judged(
            "warm-up curriculum",
            "a subset of individuals first, then all: ≈ 95 % accuracy where uniform sampling "
            "stayed near the baseline (128k individuals, 16k steps)",
            f"N = {setting(warmup, 'data.n_individuals')}, "
            f"{setting(warmup, 'trainer.max_steps')} steps: final accuracy {warm:.2f} after "
            f"{setting(warmup, 'schedule.steps')} steps on "
            f"{setting(warmup, 'schedule.individuals')} individuals, {control:.2f} uniform",
            warmup_holds,
            warm,
            control,
        ),
    ]


def _hallucination(ref: RunFolder, phases: Phases) -> list[Finding]:
    s = phases.statistics_end_step or 0
    steps, unseen = ref.curve("unseen/attr_loss")
    _, seen_acc = ref.curve("seen/attr_acc")
    after = steps >= s
    r = float(np.corrcoef(seen_acc[after], unseen[after])[0, 1]) if after.sum() > 2 else np.nan
    excess = float(unseen[-1] - phases.baseline)
    split = {
        group: {
            m: final(ref, f"{group}/{m}") for m in ("max_prob", "entropy", "hallucination_rate")
        }
        for group in ("seen", "unseen")
    }
    return [
        judged(
            "hallucinations arrive with knowledge",
            "loss on never-seen individuals rises above the baseline exactly when training "
            "individuals become known",
            f"unseen loss {at_step(ref, 'unseen/attr_loss', s):.2f} at the statistics end, "
            f"{unseen[-1]:.2f} at the end (baseline {phases.baseline:.2f}); correlation with "
            f"seen accuracy r = {r:.2f}",
            hallucination_rise_holds,
            excess,
            r,
        ),
        judged(
            "unseen individuals: confident but less so",
            "max-prob ≈ 0.8 vs ≈ 1.0 and entropy ≈ 0.7 vs ≈ 0.02 (unseen vs seen)",
            f"max-prob {split['unseen']['max_prob']:.2f} vs {split['seen']['max_prob']:.2f}, "
            f"entropy {split['unseen']['entropy']:.2f} vs {split['seen']['entropy']:.2f}; "
            f"{split['unseen']['hallucination_rate']:.0%} of unseen answers confident",
            confidence_holds,
            split["seen"],
            split["unseen"],
        ),
    ]


def _finetuning(runs: dict[str, RunFolder]) -> list[Finding]:
    plain = interference_summary(runs["finetune"])
    replay = interference_summary(runs["finetune_replay"])
    stability = runs["finetune"].read_json(runs["finetune"].interference)["attention_stability"]
    circuit_differences = {
        key: entry["difference"]
        for key, entry in stability.items()
        if not key.startswith("attn_drift/")
    }
    start = plain["old_acc_start"]
    return [
        judged(
            "fine-tuning corrupts memories",
            "fine-tuning on 1k–16k new individuals collapses old accuracy within ~100 steps "
            "while new facts are learned slowly",
            f"{setting(runs['finetune'], 'new_individuals')} new: old accuracy {start:.2f} "
            f"halves {_steps(plain['steps_to_half_old_acc'])} (lowest {plain['old_acc_min']:.2f}); "
            f"new accuracy {plain['new_acc_final']:.2f} after {plain['final_step']} steps",
            forgetting_holds,
            plain["steps_to_half_old_acc"],
            plain["new_acc_final"],
            start,
        ),
        judged(
            "replay only partly helps",
            "replaying old individuals during fine-tuning only partly prevents the collapse",
            f"lowest old accuracy {replay['old_acc_min']:.2f} with replay 1, "
            f"{plain['old_acc_min']:.2f} without (start {start:.2f})",
            replay_holds,
            replay["old_acc_min"],
            plain["old_acc_min"],
            start,
        ),
        judged(
            "attention stays stable in fine-tuning",
            "attention patterns stay stable while fine-tuning",
            "circuit change minus the control's: "
            + ", ".join(f"{k} {d:+.2f}" for k, d in circuit_differences.items()),
            stable_attention_holds,
            list(circuit_differences.values()),
        ),
    ]


# ---- figures and report ---------------------------------------------------------------


def draw_figures(runs: dict[str, RunFolder], out: Path) -> dict[str, str]:
    """The report's figures (PNG and PDF) into `out`; caption by PNG file name."""
    ref = runs[REFERENCE]
    phases = ref.detected_phases()
    steps, loss = ref.curve("seen/attr_loss")
    figures = {
        "phases": (
            phases_figure(steps, loss, ref.curve("seen/attr_acc")[1], phases),
            "The default run: loss against the no-knowledge baseline, and accuracy.",
        ),
        "attention": (attention_figure(ref, phases), "Attention circuits over training."),
        "hallucination": (hallucination_figure(ref, phases), "Seen vs unseen individuals."),
    }
    sizes, group = size_runs(runs)
    onsets = [r.detected_phases().knowledge_onset_step for r in group]
    if (fit := _power_law(sizes, onsets)) is not None:
        figures["plateau_vs_n"] = (power_law_figure(fit), "Plateau length against N.")
    figures["size_curves"] = (
        curves_figure(group, [f"N={n}" for n in sizes], onsets),
        "Learning curves by population size.",
    )
    for name, labels, caption in (
        (
            "imbalance",
            {"imbalance_alpha_0": "uniform", "imbalance_alpha_0.6": "α = 0.6"},
            "Power-law sampling against uniform (N = 2000).",
        ),
        (
            "warmup",
            {"warmup_control": "uniform", "warmup": "warm-up 250 for 300 steps"},
            "Warm-up curriculum against uniform (N = 4000).",
        ),
        (
            "patching",
            {
                "patching_control": "control",
                **{k: f"patterns of step {setting(runs[k], 'patching.step')}" for k in PATCHING},
            },
            "Twins trained with the reference's attention patterns.",
        ),
    ):
        group = [runs[k] for k in labels]
        ends = [r.detected_phases().knowledge_onset_step for r in group]
        figures[name] = (curves_figure(group, list(labels.values()), ends), caption)
    figures["imbalance_buckets"] = (
        buckets_figure(runs["imbalance_alpha_0.6"], runs["imbalance_alpha_0.6"].detected_phases()),
        "Accuracy by frequency bucket under α = 0.6.",
    )
    figures["finetuning"] = (
        interference_comparison_figure(
            [runs["finetune"], runs["finetune_replay"]], ["no replay", "replay 1"]
        ),
        f"Fine-tuning on {setting(runs['finetune'], 'new_individuals')} new individuals: "
        "old (solid) and new (dashed) accuracy.",
    )
    captions = {}
    for stem, (fig, caption) in figures.items():
        if fig is not None:
            save(fig, out / stem)
            captions[f"{stem}.png"] = caption
    return captions


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    versions = f"torch {torch.__version__}, Python {platform.python_version()}"
    return f"{cpu}, {os.cpu_count()} cores, {versions}"


def write_report(
    out: Path, findings: list[Finding], captions: dict[str, str], timing: dict
) -> Path:
    held = sum(f.holds for f in findings)
    lines = [
        "# recall: small-scale reproduction of Zucchet et al. (2025)",
        "",
        f"Measured {timing['date']} on {timing['machine']}. Compute: "
        f"{timing['compute_s'] / 60:.0f} min over {timing['n_runs']} runs "
        f"({timing['elapsed_s'] / 60:.0f} min wall time for this invocation).",
        "",
        f"**{held} of {len(findings)} findings hold** by the criteria below.",
        "",
        "| finding | what the study reported | what this run measured | holds? |",
        "|---|---|---|---|",
        *(
            f"| {f.finding} | {f.study} | {f.measured} | {'yes' if f.holds else '**no**'} |"
            for f in findings
        ),
        "",
        "## Criteria",
        "",
        *(f"- **{f.finding}**: {f.criterion}" for f in findings),
        "",
        "## Figures",
        "",
        *(f"![{caption}](figures/{name})\n\n*{caption}*\n" for name, caption in captions.items()),
        "## Runs",
        "",
        "| run | what it is | wall time (s) |",
        "|---|---|---|",
        *(
            f"| `runs/{label}` | {purpose} | {secs:.0f} |"
            for label, purpose, secs in timing["runs"]
        ),
    ]
    report = out / "report.md"
    write_atomically(report, "\n".join(lines) + "\n")
    return report


def run_plan(plan: Sequence[PlannedRun], out: Path) -> dict[str, RunFolder]:
    """Run every planned run not finished yet under <out>/runs; all run folders by label."""
    runs: dict[str, RunFolder] = {}
    for i, planned in enumerate(plan, 1):
        run = RunFolder(out / "runs" / planned.label)
        runs[planned.label] = run
        if run.finished:
            print(
                f"recall-reproduce: [{i}/{len(plan)}] {planned.label}: finished, kept", flush=True
            )
            continue
        shutil.rmtree(run.path, ignore_errors=True)  # an interrupted run starts over
        print(f"recall-reproduce: [{i}/{len(plan)}] {planned.label}: {planned.purpose}", flush=True)
        reference = runs.get(REFERENCE)
        overrides = [
            o.replace("{reference}", str(reference.path) if reference else "")
            for o in planned.overrides
        ]
        entry = train if planned.entry == "train" else finetune
        entry(compose(planned.entry, [*overrides, f"run_dir={run.path}"]))
    return runs


def reproduce(out: Path, plan: Sequence[PlannedRun] = PLAN) -> Path:
    """Run the plan into `out`, measure every finding, write report.md; its path."""
    started = time.perf_counter()
    runs = run_plan(plan, out)
    findings = measure(runs)
    captions = draw_figures(runs, out / "figures")
    run_times = []
    for planned in plan:
        run = runs[planned.label]
        summary = run.read_json(run.phases if run.phases.exists() else run.interference)
        run_times.append((planned.label, planned.purpose, summary.get("wall_time_s", float("nan"))))
    timing = {
        "date": datetime.now().strftime("%Y-%m-%d"),
        "machine": machine(),
        "n_runs": len(plan),
        "compute_s": sum(t for *_, t in run_times),
        "elapsed_s": time.perf_counter() - started,
        "runs": run_times,
    }
    write_atomically(
        out / "findings.json",
        json.dumps({"timing": timing, "findings": [asdict(f) for f in findings]}, indent=2) + "\n",
    )
    return write_report(out, findings, captions, timing)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point."""
    parser = argparse.ArgumentParser(
        prog="recall-reproduce",
        description="Reproduce every finding of the study at small scale into report.md.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("reports") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S"),
        help="report folder (default reports/<date_time>); an existing one is continued",
    )
    args = parser.parse_args(argv)
    quiet_lightning()
    with reported("recall-reproduce", f"run it again with --out {args.out} to continue"):
        args.out.mkdir(parents=True, exist_ok=True)
        report = reproduce(args.out)
    print(report.read_text().split("## Criteria")[0])
    print(f"recall-reproduce: report in {report}")
