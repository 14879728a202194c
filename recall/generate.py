"""`recall-generate`: a run's corpus as plain files, for use outside recall.

recall-generate out=corpus/                        # the default run's corpus
recall-generate out=corpus/ data.n_individuals=4000 data/distribution=power_law

It takes the same data overrides (and seed) as recall-train and writes what that run
would train and evaluate on: tokenizer.json, templates.json, individuals.jsonl, and the
biographies of train.jsonl (the first `n_biographies` sequences of the training stream, in
order), heldout.jsonl (the seen evaluation set, held-out templates) and unseen.jsonl (the
unseen evaluation set). Biography rows are {"individual", "text", "facts": [{"attribute",
"template", "value", "start", "end"}]} with character spans; every file loads with
`datasets.load_dataset("json", data_files=...)`. Files are written into a temporary folder
that becomes `out` only when complete.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from itertools import islice
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from recall.cli import checked_command_line, reported
from recall.config import CONFIG_DIR, check_known_keys, to_dataclasses
from recall.data.corpus import Corpus
from recall.data.datamodule import LoaderConfig, TrainingStream, evaluation_choices
from recall.data.population import PopulationConfig, generate_population
from recall.data.schedules import build_schedule
from recall.errors import ConfigError
from recall.runs import folder_written_atomically


def generate(cfg: DictConfig) -> Path:
    """Write the corpus files of `cfg` into `cfg.out` and return that folder."""
    check_known_keys(cfg, "generate")
    if OmegaConf.is_missing(cfg, "out"):
        raise ConfigError("out= is required: the folder to write the corpus into")
    if cfg.n_biographies < 0:
        raise ConfigError(f"n_biographies={cfg.n_biographies} must be zero or positive")
    out = Path(cfg.out).expanduser().absolute()
    population_config, loader = to_dataclasses(
        cfg.data, "data", PopulationConfig, LoaderConfig, seed=cfg.seed
    )
    schedule = build_schedule(
        OmegaConf.to_container(cfg.schedule, resolve=True),
        loader.distribution,
        population_config.n_individuals,
    )
    with folder_written_atomically(out, "out=") as staging:
        corpus = Corpus(generate_population(population_config))
        stream = TrainingStream(corpus, schedule, loader.batch_size, cfg.seed, start_step=0)
        write_corpus(staging, corpus, schedule.base, stream, loader, cfg)
    return out


def write_corpus(
    folder: Path,
    corpus: Corpus,
    weights: np.ndarray,
    stream: TrainingStream,
    loader: LoaderConfig,
    cfg: DictConfig,
) -> None:
    """The corpus files: tokenizer, frames, individuals, then the three biography sets."""
    corpus.tokenizer.save(folder / "tokenizer.json")
    frames = {a: [t.frame for t in ts] for a, ts in corpus.templates.items()}
    (folder / "templates.json").write_text(json.dumps(frames, indent=1) + "\n")
    write_jsonl(folder / "individuals.jsonl", individual_rows(corpus, weights))
    steps = math.ceil(cfg.n_biographies / loader.batch_size)
    training = (
        corpus.text(int(i), templates, order)
        for step in range(steps)
        for i, templates, order in zip(*stream.choices(step), strict=True)
    )
    write_jsonl(folder / "train.jsonl", map(asdict, islice(training, cfg.n_biographies)))
    evaluation = evaluation_choices(corpus, weights, loader.n_eval, cfg.seed)
    for split, name in (("seen", "heldout.jsonl"), ("unseen", "unseen.jsonl")):
        rows = zip(*evaluation.get(split, ([], [], [])), strict=True)
        write_jsonl(folder / name, (asdict(corpus.text(int(i), t, o)) for i, t, o in rows))


def individual_rows(corpus: Corpus, weights: np.ndarray) -> Iterator[dict[str, Any]]:
    """One row per individual: name, values, split, its frames and sampling probability."""
    population = corpus.population
    split = population.split
    probability = weights / weights.sum()
    for i in range(population.n_seen + population.n_unseen):
        offsets = population.template_offsets[i]
        yield {
            "id": i,
            "name": population.full_name(i),
            "attributes": {a: population.value(i, a) for a in population.attributes},
            "split": "seen" if i < population.n_seen else "unseen",
            "train_templates": {
                a: split.train_index(offsets[k], np.arange(split.n_train)).tolist()
                for k, a in enumerate(population.attributes)
            },
            "heldout_templates": {
                a: split.heldout_index(offsets[k], np.arange(split.heldout)).tolist()
                for k, a in enumerate(population.attributes)
            },
            "weight": float(probability[i]) if i < population.n_seen else 0.0,
        }


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="generate")
def _hydra_main(cfg: DictConfig) -> None:
    with reported("recall-generate"):
        out = generate(cfg)
    print(f"recall: corpus written to {out}")


def main() -> None:
    """Console entry point (Hydra parses the command line)."""
    checked_command_line("recall-generate", "generate", sys.argv[1:])
    _hydra_main()
