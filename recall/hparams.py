"""A finished run's configuration and outcome as one TensorBoard HParams session.

With it, `tensorboard --logdir multiruns/<sweep>` compares the jobs of a sweep in the
HParams tab (table, parallel coordinates, scatter plots): each job's resolved config,
flattened (data.n_individuals, model.n_layer, optim.lr, ...), against its outcome: the
phase boundaries of phases.json and the final seen and unseen metrics. The session goes
into the run's own tensorboard/ folder, so that one run stays one TensorBoard run
(torch's `SummaryWriter.add_hparams` would make a sub-run beside it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

from omegaconf import OmegaConf
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from recall.runs import RunFolder

# phases.json entries, logged as scalars phases/<key> at the final step; one that is null
# (never reached) is left out, so its cell stays empty rather than showing a made-up number.
OUTCOME = ("statistics_end_step", "knowledge_onset_step", "plateau_length")
# Metrics the run already logs: the HParams table shows each one's last (final) value.
FINAL = (
    "seen/attr_loss",
    "seen/attr_acc",
    "baseline",
    "unseen/attr_loss",
    "unseen/attr_loss_excess",
    "unseen/max_prob",
    "unseen/hallucination_rate",
)
# Config keys that say where a run is, not what it is.
NOT_HPARAMS = ("run_dir", "ckpt_path", "progress_refresh")
# The session's own event file: TensorBoard keeps the first HParams session it reads in a
# run, so a run that finishes again (resumed with more steps) replaces this file.
SUFFIX = ".hparams"


def flat_config(config: Mapping, prefix: str = "") -> Iterator[tuple[str, float | str]]:
    """(dotted key, value) of every leaf, as HParams types: numbers stay numbers; booleans,
    null and lists become their YAML-like text (true, null, [0.9, 0.95])."""
    for key, value in config.items():
        name = f"{prefix}{key}"
        if name in NOT_HPARAMS:
            continue
        if isinstance(value, Mapping):
            yield from flat_config(value, f"{name}.")
        elif isinstance(value, bool) or value is None or not isinstance(value, int | float | str):
            yield name, json.dumps(value)
        else:
            yield name, value


def outcome_tags(run: RunFolder) -> list[str]:
    """The HParams metrics of a run: phases/<outcome>, then the final metrics it logged."""
    logged = set(run.columns())
    return [f"phases/{key}" for key in OUTCOME] + [tag for tag in FINAL if tag in logged]


def log_hparams(run: RunFolder, summary: dict) -> None:
    """Write the run's HParams session (config and outcome) into <run>/tensorboard.

    `summary` is what train.summarize writes to phases.json. Called again (a resumed run
    that finishes again), the new session replaces the earlier one.
    """
    config = OmegaConf.to_container(run.load_config(), resolve=True)
    tags = outcome_tags(run)
    experiment, start, end = hparams(dict(flat_config(config)), dict.fromkeys(tags, 0.0))
    step = int(summary.get("final_step", 0))
    for earlier in run.tensorboard.glob(f"events.out.tfevents.*{SUFFIX}"):
        earlier.unlink()
    with SummaryWriter(log_dir=str(run.tensorboard), filename_suffix=SUFFIX) as writer:
        for key in OUTCOME:
            if summary.get(key) is not None:
                writer.add_scalar(f"phases/{key}", float(summary[key]), step)
        for proto in (experiment, start, end):
            writer.file_writer.add_summary(proto, step)
