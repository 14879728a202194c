"""Reading numbers out of finished run folders, shared by the findings."""

from __future__ import annotations

from typing import Any

import numpy as np
from omegaconf import OmegaConf

from recall.runs import RunFolder


def at_step(run: RunFolder, metric: str, step: int) -> float:
    """The metric at the last evaluation at or before `step`."""
    steps, values = run.curve(metric)
    return float(values[max(np.searchsorted(steps, step, side="right") - 1, 0)])


def final(run: RunFolder, metric: str) -> float:
    return float(run.curve(metric)[1][-1])


def setting(run: RunFolder, key: str) -> Any:
    """A value of the run's resolved config, by dotted key."""
    return OmegaConf.select(run.load_config(), key)


def onset(run: RunFolder) -> int | None:
    """The run's knowledge-onset step (its plateau length), None if it never left it."""
    return run.detected_phases().knowledge_onset_step


def plateau_length(run: RunFolder) -> int:
    """Knowledge onset, or the run's last step when it never left the plateau (a lower
    bound: the censored runs count as long as they ran, never as missing)."""
    found = onset(run)
    return found if found is not None else int(run.curve("seen/attr_loss")[0][-1])


def checkpoint_steps(run: RunFolder) -> list[int]:
    """The steps whose weights the run kept (stepNNNNNN.ckpt), ascending."""
    return sorted(int(p.stem.removeprefix("step")) for p in run.checkpoints.glob("step*.ckpt"))


def steps_text(step: int | None) -> str:
    return "never" if step is None else f"at step {step}"


def relative_shortening(control: RunFolder, treated: RunFolder) -> float:
    """1 - treated plateau / control plateau: the fraction of the control's plateau that
    the treatment removes (plateaus of runs that never left it count as their length)."""
    return 1 - plateau_length(treated) / plateau_length(control)
