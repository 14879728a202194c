"""Shared fixtures: small populations and the real Hydra configs, shrunk for speed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
import torch
from filelock import FileLock
from nbclient import NotebookClient
from omegaconf import DictConfig

from recall.config import compose
from recall.data.corpus import Corpus
from recall.data.population import PopulationConfig, generate_population
from recall.findings.base import t_interval, verdict
from recall.runs import RunFolder
from recall.train import train

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one worker per core (pytest -n auto): one thread each, for the worker
    # and for the CLI processes and notebook kernels it starts, so that none fight over cores.
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

# `make test` hands whole files to its workers in collection order (pytest -n auto --dist
# loadfile --no-loadscope-reorder): the longest file (the reproduction runner's, over a
# quarter of the suite's time) goes first, while the other workers share the rest.
LONGEST_FIRST = ("test_reproduce.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in LONGEST_FIRST)


ATTRIBUTES = {
    "birth_date": 336,
    "birth_city": 50,
    "university": 40,
    "major": 30,
    "company": 40,
    "current_city": 50,
}


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    config = PopulationConfig(n_individuals=300, n_unseen=100, attributes=ATTRIBUTES, seed=3)
    return Corpus(generate_population(config))


# The smallest run that still learns: used by every test that trains.
TINY_RUN = [
    "data.n_individuals=40",
    "data.n_unseen=16",
    "data.batch_size=32",
    "data.n_eval=40",
    "model.n_layer=2",
    "model.d_model=64",
    "model.n_head=2",
    "progress_refresh=0",
]
# For tests of machinery, not of learning (runner, ensembles, resuming, sweeps): three attributes
# instead of six halve each step (biographies of at most 60 tokens instead of 122).
THREE_ATTRIBUTES = [f"~data.attributes.{a}" for a in ("birth_date", "university", "current_city")]


@pytest.fixture
def make_cfg(tmp_path) -> Callable[..., DictConfig]:
    """Compose the real train.yaml with overrides; run_dir defaults into tmp_path."""

    def make(*overrides: str, run: str = "run") -> DictConfig:
        return compose("train", [f"run_dir={tmp_path / run}", *overrides])

    return make


@pytest.fixture(scope="session")
def pretrained(tmp_path_factory) -> RunFolder:
    """A tiny finished run past its plateau, checkpointed every 100 steps: the start of
    fine-tuning tests and the reference of patching tests. Tests must not write into it.
    Trained once per session: under `pytest -n auto` by the first worker to need it."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the workers' folders sit side by side in it
    run_dir = shared / "pretrained" / "run"
    overrides = [
        *TINY_RUN,
        f"run_dir={run_dir}",
        "trainer.max_steps=500",  # seen accuracy 0.6: enough to watch it being forgotten
        "eval.every=25",
        "checkpoint.every_n_steps=100",
        "callbacks=none",
    ]
    with FileLock(shared / "pretrained.lock"):
        run = RunFolder(run_dir)
        return run if run.finished else train(compose("train", overrides))


def run_notebook(path: Path, folder: Path) -> tuple[nbformat.NotebookNode, list]:
    """Execute a notebook with `folder` as its working directory (its runs/ go there); the
    executed notebook and what its cells displayed. A cell error raises."""
    book = nbformat.read(path, as_version=4)
    NotebookClient(
        book, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    shown = [
        o
        for c in book.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type in ("display_data", "execute_result")
    ]
    return book, shown


def assert_judged_from_its_seeds(row: dict) -> None:
    """A findings.json row's mean, 95 % interval and verdict follow from its per-seed effects."""
    mean, ci = t_interval(list(row["per_seed"].values()))
    assert row["mean"] == pytest.approx(mean) and row["ci95"] == pytest.approx(list(ci)), row["id"]
    assert row["verdict"] == verdict(ci, row["threshold"]), row["id"]
