"""Runs that several findings read: the reference (default) run and the population sizes."""

from __future__ import annotations

import math
from collections.abc import Callable

from recall.findings.base import PlannedRun, Runs
from recall.findings.measures import plateau_length, setting
from recall.runs import RunFolder

REFERENCE = PlannedRun(
    "reference",
    "train",
    ("checkpoint.every_n_steps=100",),
    "the default run (make train): phases, circuits, hallucination; start of fine-tuning "
    "and patching",
)

# Uniform sampling at four population sizes, each run until well past its plateau
# (experiment=plateau_vs_n). The imbalance and celebrity findings use them as controls.
SIZES = (250, 500, 1000, 2000)


def size_run(n: int) -> PlannedRun:
    return PlannedRun(
        f"size_{n}",
        "train",
        ("experiment=plateau_vs_n", f"data.n_individuals={n}"),
        f"uniform sampling at N = {n}",
    )


def patched_twin(
    label: str, step_of: Callable[[RunFolder], int], purpose: str, until_onset: bool = False
) -> PlannedRun:
    """A twin trained with the reference's attention patterns of the checkpoint at
    `step_of(reference)`. With `until_onset` (when only its plateau's length is read) it is
    the reference's exact twin, patterns aside: same steps and learning-rate schedule, so
    that the reference is its control; it ends at its knowledge onset. Otherwise it runs
    1.5 times the reference's plateau, long enough for an unpatched model to leave it, and
    is compared with another such twin."""

    def overrides(runs: Runs) -> list[str]:
        ref = runs[REFERENCE.label]
        if until_onset:
            length = int(setting(ref, "trainer.max_steps"))
            stop = ["callbacks.phases=true", "stop_at_onset=true"]
        else:
            length, stop = int(math.ceil(1.5 * plateau_length(ref) / 50) * 50), []
        return [
            "experiment=patching",
            f"trainer.max_steps={length}",
            f"patching.run={ref.path}",
            f"patching.step={step_of(ref)}",
            *stop,
        ]

    return PlannedRun(label, "train", overrides, purpose, needs=(REFERENCE,))


def _start_at_reference(*overrides: str) -> Callable[[Runs], list[str]]:
    return lambda runs: [f"start={runs[REFERENCE.label].path}", *overrides]


# Fine-tuning the reference on 1/16 as many new individuals, as the study's setup had it
# (configs/finetune.yaml), with its continued-pre-training control; and with replay.
FINETUNE = PlannedRun(
    "finetune",
    "finetune",
    _start_at_reference("control=true"),
    "fine-tuning on new individuals, with its continued-pre-training control",
    needs=(REFERENCE,),
)
FINETUNE_REPLAY = PlannedRun(
    "finetune_replay",
    "finetune",
    _start_at_reference("replay=1"),
    "the same, old individuals replayed",
    needs=(REFERENCE,),
)
EARLY_STEPS = 100  # the study: old accuracy collapses "within ~100 steps"


def initial_drop(run: RunFolder) -> tuple[float, int]:
    """The fraction of the old individuals' starting accuracy lost at its lowest within
    the first EARLY_STEPS steps of fine-tuning, and that step."""
    steps, old = run.curve("old/attr_acc")
    early = steps <= EARLY_STEPS
    lowest = int(old[early].argmin())
    return 1 - float(old[early][lowest]) / float(old[0]), int(steps[early][lowest])
