"""`recall-analyze`: analyses of a finished run's checkpoints, into <run>/analysis/.

    recall-analyze runs/default/<time>                      # every analysis
    recall-analyze runs/default/<time> --only probes        # some of them

tokens      the loss of every token of 256 seen and 256 unseen individuals' biographies at
            each checkpoint, each token classified as stagnated, double descent, downward,
            upward or other (recall/analysis/trajectories.py states the criterion); shares by
            token role and class-mean curves (token_classes.csv, token_curves.csv,
            tokens.png/.pdf)
similarity  linear CKA and SVCCA between every two checkpoints, per layer, on the residual
            stream at the last name token of each biography's first sentence
            (similarity.csv, similarity.png/.pdf)
probes      each attribute's value decoded linearly from the same activations, per layer
            and checkpoint, tested on held-out individuals (probes.csv, probes.png/.pdf)
crosscoder  a sparse dictionary trained on the last layer at every name mention of all
            trained checkpoints (step > 0) at once; each feature's decoder norm per
            checkpoint and its emergence step (crosscoder.csv, crosscoder.png/.pdf)

The same fixed biographies feed every checkpoint; only the activations at the analysed
positions are kept, one checkpoint at a time.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from recall.analysis.activations import residual_stream
from recall.analysis.crosscoder import CrosscoderConfig, emergence, normalised, train_crosscoder
from recall.analysis.probes import probe_accuracy, split_individuals
from recall.analysis.similarity import linear_cka, subspace_cca, top_subspace
from recall.analysis.snapshots import Inputs, Snapshot, fixed_inputs, snapshots
from recall.analysis.trajectories import (
    CLASSES,
    ROLES,
    TrajectoryCriterion,
    classify,
    token_losses,
    token_roles,
)
from recall.cli import ArgumentParser, reported
from recall.data.corpus import Corpus
from recall.errors import ConfigError
from recall.plots.analysis_plots import (
    crosscoder_figure,
    probes_figure,
    similarity_figure,
    trajectories_figure,
)
from recall.plots.style import save
from recall.runs import RunFolder, regenerate_corpus, write_atomically

ANALYSES = ("tokens", "similarity", "probes", "crosscoder")
N_INDIVIDUALS = 1024  # seen individuals whose biographies are probed and compared
N_TRAJECTORIES = 256  # seen and as many unseen individuals whose every token is tracked
PROBE_TEST_SHARE = 0.25
LIVE_FIRING = 1e-3  # a crosscoder latent counts if it fires on at least this share of inputs
SEED = 0


@dataclass(frozen=True)
class Activations:
    steps: list[int]
    values: torch.Tensor  # [checkpoint, layer, individual, d]: last name token, first sentence
    inputs: Inputs
    every_name: torch.Tensor  # [checkpoint, mention, d]: last layer, last token of every name


@dataclass(frozen=True)
class TokenLosses:
    steps: list[int]
    losses: torch.Tensor  # [checkpoint, biography, position]: NaN at padding
    inputs: Inputs


def collect(found: list[Snapshot], corpus: Corpus) -> tuple[Activations, TokenLosses]:
    """One pass over the checkpoints, one at a time: the residual stream at the analysed
    positions, and the loss of every token of the trajectory biographies."""
    probed = fixed_inputs(corpus, N_INDIVIDUALS, 0, SEED)
    tracked = fixed_inputs(corpus, N_TRAJECTORIES, N_TRAJECTORIES, SEED)
    name_ends = probed.name_ends()  # [biography, sentence]
    n_bios, n_sentences = name_ends.shape
    rows = torch.arange(n_bios).repeat_interleave(n_sentences)
    bios, first = torch.arange(n_bios), probed.first_mention()
    values, every_name, losses = [], [], []
    for i, snapshot in enumerate(found, 1):
        print(f"recall-analyze: [{i}/{len(found)}] checkpoint of step {snapshot.step}", flush=True)
        model = snapshot.model()
        mentions = residual_stream(model, probed.batch.tokens, rows, name_ends.flatten())
        by_sentence = mentions.view(len(mentions), n_bios, n_sentences, -1)
        values.append(by_sentence[:, bios, first])  # the first sentence's name
        every_name.append(mentions[-1])
        losses.append(token_losses(model, tracked.batch))
    steps = [s.step for s in found]
    return (
        Activations(steps, torch.stack(values), probed, torch.stack(every_name)),
        TokenLosses(steps, torch.stack(losses), tracked),
    )


def similarity(acts: Activations, out: Path) -> np.ndarray:
    """CKA and SVCCA of every pair of checkpoints, per layer; returns CKA [layer, step, step]."""
    n_ckpt, n_layer = acts.values.shape[:2]
    cka = np.ones((n_layer, n_ckpt, n_ckpt))
    rows = []
    for layer in range(n_layer):
        bases = [top_subspace(acts.values[i, layer]) for i in range(n_ckpt)]
        for i in range(n_ckpt):
            for j in range(i, n_ckpt):
                value = linear_cka(acts.values[i, layer], acts.values[j, layer])
                cka[layer, i, j] = cka[layer, j, i] = value
                cca = subspace_cca(bases[i], bases[j])
                rows.append([layer, acts.steps[i], acts.steps[j], value, cca])
    write_csv(out / "similarity.csv", ["layer", "step_a", "step_b", "cka", "svcca"], rows)
    return cka


def probes(acts: Activations, corpus: Corpus, out: Path) -> tuple[np.ndarray, float]:
    """Probe accuracy per layer, checkpoint and attribute; returns the mean over attributes
    [layer, step] and the mean chance level (majority class of the training split)."""
    population = corpus.population
    individuals = acts.inputs.batch.individuals.numpy()
    train, test = split_individuals(len(individuals), PROBE_TEST_SHARE, SEED)
    n_ckpt, n_layer = acts.values.shape[:2]
    accuracy = np.zeros((n_layer, n_ckpt, len(population.attributes)))
    chances, rows = [], []
    for a, (attribute, pool) in enumerate(population.pools.items()):
        labels = torch.from_numpy(population.values[individuals, a].astype(np.int64))
        majority = np.bincount(labels[train].numpy()).argmax()
        chances.append(float((labels[test] == majority).double().mean()))
        for i in range(n_ckpt):
            for layer in range(n_layer):
                x = acts.values[i, layer]
                accuracy[layer, i, a] = probe_accuracy(
                    x[train], labels[train], x[test], labels[test], pool.cardinality
                )
                rows.append([layer, acts.steps[i], attribute, accuracy[layer, i, a], chances[-1]])
    header = ["layer", "step", "attribute", "accuracy", "chance"]
    write_csv(out / "probes.csv", header, rows)
    return accuracy.mean(2), float(np.mean(chances))


def trajectories(tokens: TokenLosses, out: Path) -> tuple[dict, dict]:
    """Classify every token over the checkpoints after step 0; returns the class-mean loss
    curves {(split, class): [step]} and shares {(split, role): [class]}."""
    later = [i for i, step in enumerate(tokens.steps) if step > 0]
    steps = np.array(tokens.steps)[later]
    losses = tokens.losses[later].numpy()  # [step, biography, position]
    roles = token_roles(tokens.inputs.batch)
    seen = np.broadcast_to(tokens.inputs.seen[:, None], roles.shape)
    kept = roles >= 0
    curves_per_token = losses[:, kept].T  # [token, step]
    classes = classify(steps, curves_per_token, TrajectoryCriterion())
    token_role, token_seen = roles[kept], seen[kept]
    curves, shares, share_rows, curve_rows = {}, {}, [], []
    for split, in_split in (("seen", token_seen), ("unseen", ~token_seen)):
        for c, name in enumerate(CLASSES):
            members = in_split & (classes == c)
            if members.any():
                curves[split, name] = curves_per_token[members].mean(0)
                curve_rows += [
                    [split, name, int(members.sum()), int(st), float(v)]
                    for st, v in zip(steps, curves[split, name], strict=True)
                ]
        for r, role in enumerate(ROLES):
            in_role = in_split & (token_role == r)
            counts = np.bincount(classes[in_role], minlength=len(CLASSES))
            shares[split, role] = counts / max(1, counts.sum())
            share_rows += [
                [split, role, name, int(n), n / max(1, counts.sum())]
                for name, n in zip(CLASSES, counts, strict=True)
            ]
    write_csv(out / "token_classes.csv", ["split", "role", "class", "tokens", "share"], share_rows)
    header = ["split", "class", "tokens", "step", "mean_loss"]
    write_csv(out / "token_curves.csv", header, curve_rows)
    return curves, shares


def crosscoder(acts: Activations, out: Path) -> tuple[np.ndarray, np.ndarray]:
    """Train the crosscoder on the last layer at every name mention; returns the live
    latents' decoder norms [step, latent] (each scaled to its maximum) and emergence steps."""
    trained = [i for i, step in enumerate(acts.steps) if step > 0]  # random init: no features
    steps = [acts.steps[i] for i in trained]
    x = acts.every_name[trained].transpose(0, 1)  # [mention, checkpoint, d]
    model = train_crosscoder(x, CrosscoderConfig())
    with torch.no_grad():
        norms = model.decoder_norms()
        firing = (model.latents(normalised(x)) > 0).double().mean(0)
    live = (firing > LIVE_FIRING).numpy()
    norms = norms[:, live]
    emerged = emergence(norms, steps)
    rows = [
        [latent, step, float(norms[c, i]), int(emerged[i]), float(firing[live][i])]
        for i, latent in enumerate(np.flatnonzero(live))
        for c, step in enumerate(steps)
    ]
    header = ["latent", "step", "decoder_norm", "emergence_step", "firing_rate"]
    write_csv(out / "crosscoder.csv", header, rows)
    return (norms / norms.max(0).values).numpy(), emerged


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """One analysis table, written whole or not at all (a kill leaves the previous one)."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    write_atomically(path, text.getvalue())


def analyze(run: RunFolder, only: Sequence[str] = ANALYSES) -> Path:
    """Run the chosen analyses on a run folder; returns <run>/analysis."""
    corpus, _ = regenerate_corpus(run)
    found = snapshots(run)  # both checked before anything is written
    phases = run.detected_phases() if run.phases.exists() else None
    out = run.path / "analysis"
    out.mkdir(exist_ok=True)
    acts, tokens = collect(found, corpus)
    if "tokens" in only:
        print("recall-analyze: token trajectories", flush=True)
        curves, shares = trajectories(tokens, out)
        steps = [s for s in tokens.steps if s > 0]
        save(trajectories_figure(steps, curves, shares, phases), out / "tokens")
    if "crosscoder" in only:
        print("recall-analyze: crosscoder (about a minute)", flush=True)
        norms, emerged = crosscoder(acts, out)
        steps = [s for s in acts.steps if s > 0]
        save(crosscoder_figure(steps, norms, emerged, phases), out / "crosscoder")
    if "similarity" in only:
        print("recall-analyze: representation similarity", flush=True)
        cka = similarity(acts, out)
        save(similarity_figure(acts.steps, cka, phases), out / "similarity")
    if "probes" in only:
        print("recall-analyze: probes", flush=True)
        accuracy, chance = probes(acts, corpus, out)
        save(probes_figure(acts.steps, accuracy, chance, phases), out / "probes")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = ArgumentParser(prog="recall-analyze", description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a finished training run folder")
    parser.add_argument(
        "--only", default=",".join(ANALYSES), help=f"comma-separated subset of {ANALYSES}"
    )
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    with reported("recall-analyze"):
        unknown = [name for name in only if name not in ANALYSES]
        if unknown:
            raise ConfigError(f"unknown analysis {unknown[0]!r} (known: {', '.join(ANALYSES)})")
        started = time.perf_counter()
        out = analyze(RunFolder(args.run.expanduser().absolute()), only)
    print(f"recall-analyze: wrote {out} in {time.perf_counter() - started:.0f} s")
