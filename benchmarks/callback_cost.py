"""Callback cost (benchmark 3): the default run with every dynamics callback at its default
cadence against the same run with none (the seen-set evaluation, which every run needs for
its phases, stays in both). The difference of two wall times is noisy on a shared machine
(±10 %), so the time spent inside the callbacks' hooks is also measured directly."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L

from benchmarks.common import config
from recall.callbacks.base import DynamicsCallback
from recall.train import train

HOOKS = ("on_fit_start", "on_evaluation", "on_train_end")  # every hook a dynamics callback uses


class HookTimer(L.Callback):
    """Adds up the seconds the run's dynamics callbacks spend in their hooks."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def setup(self, trainer: L.Trainer, module: Any, stage: str) -> None:
        for callback in trainer.callbacks:
            if isinstance(callback, DynamicsCallback):
                for hook in HOOKS:
                    setattr(callback, hook, self._timed(getattr(callback, hook)))

    def _timed(self, hook: Callable) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return hook(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


def default_run(callbacks: str, run_dir: Path) -> dict:
    timer = HookTimer()
    cfg = config([f"callbacks={callbacks}", f"run_dir={run_dir}", "progress_refresh=0"])
    run = train(cfg, callbacks=[timer])
    phases = run.read_json(run.phases)
    keys = ("wall_time_s", "tokens_per_s", "final_attr_acc", "knowledge_onset_step")
    return {**{k: phases[k] for k in keys}, "in_callback_hooks_s": round(timer.seconds, 1)}


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        with_callbacks = default_run("default", Path(tmp) / "default")
        without = default_run("none", Path(tmp) / "none")
    wall = with_callbacks["wall_time_s"]
    return {
        "with_callbacks": with_callbacks,
        "without_callbacks": without,
        "callback_share_of_wall_time": round(with_callbacks["in_callback_hooks_s"] / wall, 4),
        "wall_time_difference_share": round((wall - without["wall_time_s"]) / wall, 4),
    }


if __name__ == "__main__":
    print(main())
