"""report.md and findings.json: every finding's verdict, interval, per-seed values, why."""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from recall.findings.base import Judged
from recall.runs import write_atomically


def cpu_name() -> str:
    """The CPU's model name and the vector instructions torch uses: machines sold as the
    same CPU differ by 2x in matmul speed between AVX2 and AVX512."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return f"{cpu} ({torch.backends.cpu.get_cpu_capability()})"


def machine(accelerator: str = "cpu") -> str:
    """The CPU, its cores, torch and Python; and the GPU when the runs trained on one."""
    versions = f"torch {torch.__version__}, Python {platform.python_version()}"
    gpu = f"{torch.cuda.get_device_name()}, " if accelerator == "gpu" else ""
    return f"{gpu}{cpu_name()}, {os.cpu_count()} cores, {versions}"


def number(x: float) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.3g}"


def interval(j: Judged) -> str:
    """Mean and interval, saying over how many seeds when a seed had no value (the
    interval leaves it out: e.g. no knowledge onset to time a rise against)."""
    low, high = j.ci95
    n = sum(v is not None and math.isfinite(v) for v in j.per_seed.values())
    seeds = f"{n} seed{'s' * (n != 1)}"
    if n < len(j.per_seed):
        seeds = f"{n} of {len(j.per_seed)} seeds"
    if not math.isfinite(low):
        return f"{number(j.mean)} (no interval: {seeds})"
    shown = f"{number(j.mean)} [{number(low)}, {number(high)}]"
    return shown if n == len(j.per_seed) else f"{shown} over {seeds}"


def write_findings_json(out: Path, judged: list[Judged]) -> Path:
    """findings.json: one object per finding (id, verdict, threshold, effect, per_seed,
    mean, ci95, wall_s, then the texts); undefined numbers as null."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    rows = [clean(asdict(j)) for j in judged]
    path = out / "findings.json"
    write_atomically(path, json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    return path


def write_report(
    out: Path, judged: list[Judged], captions: dict[str, str], timing: dict[str, Any]
) -> Path:
    counts = {v: sum(j.verdict == v for j in judged) for v in ("holds", "fails", "inconclusive")}
    lines = [
        "# recall: small-scale reproduction of Zucchet et al. (2025)",
        "",
        f"Measured {timing['date']} on {timing['machine']}: {timing['n_runs']} runs over "
        f"{timing['seeds']} seed(s), {timing['compute_s'] / 60:.0f} min of training "
        f"({timing['elapsed_s'] / 60:.0f} min wall time for this invocation).",
        "",
        f"**{counts['holds']} hold, {counts['fails']} fail, {counts['inconclusive']} "
        f"inconclusive** of {len(judged)} findings. Each effect is measured per seed, in "
        "the study's direction; the interval is the Student-t 95 % interval of its mean over "
        "seeds. A finding holds when the interval lies above its threshold, fails when it "
        "lies below, and is inconclusive otherwise.",
        "",
        "| finding | what the study reported | effect: mean [95 % interval] | threshold "
        "| verdict |",
        "|---|---|---|---|---|",
        *(
            f"| {j.title} | {j.study} | {j.effect}: {interval(j)} | {number(j.threshold)} "
            f"| {j.verdict if j.verdict == 'holds' else f'**{j.verdict}**'} |"
            for j in judged
        ),
        "",
        "## Each finding, seed by seed",
        "",
    ]
    for j in judged:
        lines += [f"### {j.title} (`{j.id}`)", "", f"Threshold {number(j.threshold)}: {j.why}.", ""]
        lines += [f"- seed {s}: **{number(j.per_seed[s])}**. {j.details[s]}" for s in j.per_seed]
        lines += [f"- not measured: {failure}" for failure in j.failed_runs]
        lines.append("")
    lines += [
        "## Figures (first seed)",
        "",
        *(f"![{caption}](figures/{name})\n\n*{caption}*\n" for name, caption in captions.items()),
        "## Runs",
        "",
        "| run | what it is | seeds | wall time (s) |",
        "|---|---|---|---|",
        *(
            f"| `runs/{label}` | {purpose} | {seeds} | {secs:.0f} |"
            for label, purpose, seeds, secs in timing["runs"]
        ),
    ]
    if timing["failed"]:
        lines += ["", "## Failed runs", "", *(f"- {f}" for f in timing["failed"])]
    report = out / "report.md"
    write_atomically(report, "\n".join(lines) + "\n")
    return report
