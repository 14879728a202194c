"""`recall-compare`: runs side by side, as a table and overlay figures.

recall-compare multiruns/plateau_vs_n/<time>          # every run of a sweep
recall-compare runs/default/<a> runs/default/<b> -o comparison
recall-compare multiruns/finetune/<time>              # fine-tuning runs: old vs new

Per run: the config values that differ between the runs, plateau length (knowledge
onset step), steps to 50 % and 90 % seen accuracy, final accuracy overall and per
frequency bucket. When population sizes differ, plateau length ≈ a·N^b is fitted by
least squares in log-log space. A multirun writes the same into its folder when its
last job ends (`SweepSummary`, a Hydra callback).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from recall.cli import ArgumentParser, reported
from recall.data.distributions import BUCKETS
from recall.errors import ConfigError
from recall.finetune import interference_summary
from recall.plots.comparison import curves_figure, interference_comparison_figure, power_law_figure
from recall.plots.style import FORMATS, save
from recall.power_law import PowerLaw, fit_power_law
from recall.runs import RunFolder, check_output_folder, write_atomically

IGNORED_KEYS = ("run_dir", "ckpt_path", "progress_refresh", "threads")  # never a difference
ACCURACY_TARGETS = (0.5, 0.9)
N_KEY = "data.n_individuals"


def find_runs(paths: Iterable[str | Path]) -> list[RunFolder]:
    """Run folders among `paths`, each a run folder or a folder holding run folders (not
    counting run folders inside another, such as a fine-tuning run's control/)."""
    runs = []
    for path in map(Path, paths):
        if (path / "config.yaml").is_file() and not RunFolder(path).is_ensemble:
            runs.append(RunFolder(path))
            continue
        if not path.is_dir():
            raise ConfigError(f"{path} is not a folder; give run folders or a multirun folder")
        found = sorted(
            (p.parent for p in path.rglob("config.yaml")),
            key=lambda p: (len(p.parts), int(p.name) if p.name.isdigit() else 0, str(p)),
        )
        if not found:
            raise ConfigError(f"no run folders (with config.yaml) under {path}")
        # A run folder inside another is part of it (a fine-tuning run's control/), not a run
        # of the sweep; name it explicitly to compare it.
        found = [p for p in found if not RunFolder(p).is_ensemble]  # its members are runs
        found = [p for p in found if not any(q in p.parents for q in found)]
        runs.extend(RunFolder(p) for p in found)
    runs = [r for r in runs if r.metrics.is_file()]
    if not runs:
        raise ConfigError("none of the runs has a metrics.csv yet")
    return runs


def _flat(config: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(config, dict):
        out: dict[str, Any] = {}
        for key, value in config.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: config}


def varied_parameters(configs: Sequence[dict[str, Any]]) -> list[str]:
    """Dotted config keys whose values are not the same in every run."""
    flats = [_flat(c) for c in configs]
    keys = sorted(set().union(*flats))
    return [k for k in keys if k not in IGNORED_KEYS and len({repr(f.get(k)) for f in flats}) > 1]


def steps_to(steps: np.ndarray, acc: np.ndarray, target: float) -> int | None:
    """First evaluation step whose accuracy reaches `target` (None if never)."""
    reached = np.flatnonzero(acc >= target)
    return int(steps[reached[0]]) if len(reached) else None


def summarize_run(run: RunFolder, config: dict[str, Any], varied: Sequence[str]) -> dict[str, Any]:
    """One table row: varied values, plateau length, steps to targets, final accuracies."""
    flat = _flat(config)
    steps, acc = run.curve("seen/attr_acc")
    phases = run.detected_phases()
    shown = [k for k in varied if k != N_KEY]  # N has its own column
    row: dict[str, Any] = {"run": str(run.path), **{k: flat.get(k) for k in shown}}
    row.update(
        n_individuals=flat[N_KEY],
        baseline=round(phases.baseline, 4),
        plateau_length=phases.knowledge_onset_step,
        **{f"steps_to_{int(t * 100)}": steps_to(steps, acc, t) for t in ACCURACY_TARGETS},
        final_step=int(steps[-1]),
        finished=run.finished,  # False: still running, or stopped before its end
        final_attr_acc=round(float(acc[-1]), 4),
    )
    for bucket in BUCKETS:
        _, bucket_acc = run.curve(f"seen/attr_acc/{bucket}")
        row[f"final_acc_{bucket}"] = round(float(bucket_acc[-1]), 4) if len(bucket_acc) else None
    return row


def summarize_finetune_run(
    run: RunFolder, config: dict[str, Any], varied: Sequence[str]
) -> dict[str, Any]:
    """One table row of a fine-tuning run: varied values, then what was forgotten and learned."""
    flat = _flat(config)
    row: dict[str, Any] = {"run": str(run.path), **{k: flat.get(k) for k in varied}}
    summary = interference_summary(run)
    summary["attn_drift_final"] = max(summary["attn_drift_final"])  # the most-moved layer
    summary["attr_to_name_vs_control"] = recall_circuit_vs_control(run)
    row.update({k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()})
    return row


def recall_circuit_vs_control(run: RunFolder) -> float | None:
    """The last layer's attribute -> name change over the run minus its control's (the
    study's recall circuit; interference.json's attention_stability), None without one."""
    if not run.interference.is_file():
        return None
    stability = run.read_json(run.interference).get("attention_stability") or {}
    layers = [k for k in stability if k.startswith("attr_to_name/layer")]
    if not layers:
        return None
    last = max(layers, key=lambda k: int(k.removeprefix("attr_to_name/layer")))
    return stability[last]["difference"]


OUTPUTS = (
    "summary.csv",
    "power_law.json",
    *(
        f"{stem}.{fmt}"
        for stem in ("comparison", "interference", "plateau_vs_n")
        for fmt in FORMATS
    ),
)
"""Every file `compare` may write: those it does not write this time are removed, so a
folder compared again never keeps an earlier comparison's fit or figure."""


def compare(runs: Sequence[RunFolder], out: Path) -> tuple[list[dict[str, Any]], PowerLaw | None]:
    """Write summary.csv, comparison.png/.pdf and (sizes differing) plateau_vs_n.png/.pdf
    to `out`.

    Fine-tuning runs are compared with each other only: their table says what was forgotten
    and learned, and interference.png overlays old and new accuracy.
    """
    kinds = {run.is_finetuning for run in runs}
    if len(kinds) > 1:
        raise ConfigError("cannot compare fine-tuning runs with training runs; give one kind")
    configs = [OmegaConf.to_container(r.load_config()) for r in runs]
    varied = varied_parameters(configs)
    summarize = summarize_finetune_run if kinds == {True} else summarize_run
    rows = [summarize(r, c, varied) for r, c in zip(runs, configs, strict=True)]
    out.mkdir(parents=True, exist_ok=True)
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(out / "summary.csv", table.getvalue())
    labels = [_label(row, varied) for row in rows]
    written = [out / "summary.csv"]
    fit = None
    if kinds == {True}:
        written += save(interference_comparison_figure(runs, labels), out / "interference")
    else:
        lengths = [r["plateau_length"] for r in rows]
        written += save(curves_figure(runs, labels, lengths), out / "comparison")
    if kinds == {False} and N_KEY in varied:
        usable = [r for r in rows if r["plateau_length"]]
        fit = fit_power_law(
            [r["n_individuals"] for r in usable], [r["plateau_length"] for r in usable]
        )
        if fit is not None:
            written += save(power_law_figure(fit), out / "plateau_vs_n")
            fitted = {"a": fit.a, "b": fit.b, "r2": fit.r2, "left_out": left_out(rows)}
            write_atomically(out / "power_law.json", json.dumps(fitted, indent=2) + "\n")
            written.append(out / "power_law.json")
    for stale in {out / name for name in OUTPUTS} - set(written):  # from an earlier comparison
        stale.unlink(missing_ok=True)
    return rows, fit


def left_out(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs the power-law fit cannot use: no knowledge onset by their last step. Their
    plateau is at least that long, so leaving them out biases the exponent low."""
    return [
        {k: r[k] for k in ("n_individuals", "final_step", "finished")}
        for r in rows
        if not r["plateau_length"]
    ]


def _label(row: dict[str, Any], varied: Sequence[str]) -> str:
    shown = [k for k in varied if k != "name"] or ["run"]
    return ", ".join(
        f"N={row['n_individuals']}" if k == N_KEY else f"{k.split('.')[-1]}={row[k]}" for k in shown
    )


def format_table(rows: Sequence[dict[str, Any]], fit: PowerLaw | None) -> str:
    """The summary as an aligned text table (without the run paths), plus the fit."""
    columns = [c for c in rows[0] if c not in ("run", "baseline")]
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    if fit is not None:
        lines.append(f"plateau length ≈ {fit.a:.3g} · N^{fit.b:.3f}  (R² = {fit.r2:.3f})")
        for r in left_out(rows):
            lines.append(
                f"  left out of the fit: N={r['n_individuals']}, no onset by step "
                f"{r['final_step']}{'' if r['finished'] else ' (run not finished)'}"
            )
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class SweepSummary(Callback):
    """Hydra callback: compare a multirun's runs in its sweep folder when it ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        try:
            rows, fit = compare(find_runs([sweep]), sweep)
            print(format_table(rows, fit))
            print(f"recall: sweep summary in {sweep / 'summary.csv'}", flush=True)
        except ConfigError as err:
            print(f"recall: no sweep summary: {err}", file=sys.stderr)
        failed = sorted(sweep.glob("*.failed"), key=lambda p: int(p.stem))
        for path in failed:
            overrides, reason = path.read_text().splitlines()[:2]
            print(f"recall: job {path.stem} ({overrides}) failed: {reason}", file=sys.stderr)
        if failed:  # the sweep's exit status says so too
            print(f"recall: {len(failed)} job(s) of the sweep failed", file=sys.stderr)
            sys.exit(1)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point."""
    parser = ArgumentParser(
        prog="recall-compare", description="Compare training runs side by side."
    )
    parser.add_argument("folders", nargs="+", help="run folders, or folders holding runs")
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        help="output folder (default: the multirun folder given, else ./comparison)",
    )
    args = parser.parse_args(argv)
    with reported("recall-compare"):
        runs = find_runs(args.folders)
        single = Path(args.folders[0])
        one_sweep = len(args.folders) == 1 and not (single / "config.yaml").is_file()
        out = args.out or (single if one_sweep else Path("comparison"))
        check_output_folder(out, "--out", "comparison")
        rows, fit = compare(runs, out)
    print(format_table(rows, fit))
    print(f"recall-compare: wrote {out / 'summary.csv'} and figures to {out}")
