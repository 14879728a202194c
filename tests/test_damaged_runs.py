"""A damaged run folder (a cut or garbled metrics.csv, a corrupted config.yaml, corpus.json or
tokenizer.json, a truncated checkpoint), or a run folder given where it does not belong, is
one line on stderr and exit status 2 from every console script that reads it, and nothing
is written."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from recall import analyze, compare, export, finetune, plot, reproduce, train
from recall.runs import RunFolder


def cut_metrics(run: Path) -> None:
    text = (run / "metrics.csv").read_text()
    (run / "metrics.csv").write_text(text[: text.index("step")])  # inside its header


def garble_metrics(run: Path) -> None:
    lines = (run / "metrics.csv").read_text().splitlines(keepends=True)
    lines[len(lines) // 2] = "12,0.5\n"  # a row in the middle that lost its fields
    (run / "metrics.csv").write_text("".join(lines))


def corrupt_config(run: Path) -> None:
    (run / "config.yaml").write_text("data: [unclosed\n  n_individuals: :\n")


def corrupt_corpus(run: Path) -> None:
    (run / "corpus.json").write_text('{"baseline": 5.2, "seed')


def truncate_checkpoint(run: Path) -> None:
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])


def corrupt_tokenizer(run: Path) -> None:
    (run / "tokenizer.json").write_text('{"model": {"vocab": {"<pad>"')


def as_finetuning(run: Path) -> None:
    """What recall-finetune's corpus.json records; its config.yaml has no `data` section."""
    record = json.loads((run / "corpus.json").read_text())
    record["started_from"] = {"checkpoint": "/runs/start/checkpoints/last.ckpt", "step": 9}
    (run / "corpus.json").write_text(json.dumps(record))


def as_trained(run: Path) -> None:
    """No damage: the finished run given where it does not belong."""


def console(main: Callable, program: str) -> Callable[[list[str]], None]:
    """Call a console script's main() as its command line would."""

    def run(argv: list[str]) -> None:
        if main in (train.main, finetune.main):  # Hydra entry points read sys.argv
            sys.argv = [program, *argv]
            main()
        else:
            main(argv)

    return run


CASES = [  # (damage, script, its arguments given the run folder, expected message)
    (cut_metrics, plot.main, "recall-plot", lambda r: [r], "metrics.csv has no header with"),
    (garble_metrics, plot.main, "recall-plot", lambda r: [r], "metrics.csv is damaged at line"),
    (garble_metrics, compare.main, "recall-compare", lambda r: [r, r], "metrics.csv is damaged"),
    (corrupt_config, plot.main, "recall-plot", lambda r: [r], "config.yaml is not a readable"),
    (corrupt_config, analyze.main, "recall-analyze", lambda r: [r], "config.yaml is not a"),
    (corrupt_config, finetune.main, "recall-finetune", lambda r: [f"start={r}"], "config.yaml"),
    (corrupt_corpus, compare.main, "recall-compare", lambda r: [r, r], "corpus.json is not valid"),
    (
        truncate_checkpoint,
        train.main,
        "recall-train",
        lambda r: [f"ckpt_path={r}/checkpoints/last.ckpt"],
        "last.ckpt is not a readable recall checkpoint",
    ),
    (
        truncate_checkpoint,
        finetune.main,
        "recall-finetune",
        lambda r: [f"start={r}"],
        "last.ckpt is not a readable recall checkpoint",
    ),
    (corrupt_tokenizer, export.main, "recall-export", lambda r: [r], "cannot read"),
    (as_finetuning, analyze.main, "recall-analyze", lambda r: [r], "is a fine-tuning run"),
    (as_finetuning, finetune.main, "recall-finetune", lambda r: [f"start={r}"], "fine-tuning"),
    (  # a finished run (500 of 500 steps) resumed without a larger max_steps
        as_trained,
        train.main,
        "recall-train",
        lambda r: [f"ckpt_path={r}/checkpoints/last.ckpt"],
        "is finished (step 500 of trainer.max_steps=500); start a new run",
    ),
    (
        as_trained,
        train.main,
        "recall-train",
        lambda r: [f"ckpt_path={r}/checkpoints/last.ckpt", f"run_dir={r.parent}/moved"],
        "a resumed run stays in the folder of its checkpoint",
    ),
    (as_trained, compare.main, "recall-compare", lambda r: [r, "--out", r], "is a run folder"),
    (as_trained, reproduce.main, "recall-reproduce", lambda r: ["--out", r], "is a run folder"),
    (
        as_trained,
        compare.main,
        "recall-compare",
        lambda r: [r, "--out", r / "config.yaml"],
        "config.yaml is a file; give --out a folder",
    ),
    (
        as_trained,
        finetune.main,
        "recall-finetune",
        lambda r: [f"start={r}/config.yaml"],
        "is not in a run folder's checkpoints/",
    ),
]


def test_a_last_row_cut_by_a_kill_is_skipped_not_an_error(pretrained: RunFolder, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(pretrained.path, run)
    text = (run / "metrics.csv").read_text()
    (run / "metrics.csv").write_text(text[: text.rindex("\n", 0, -1) + 8])  # 7 characters in
    steps, _ = RunFolder(run).curve("train/loss")
    assert steps.tolist() == pretrained.curve("train/loss")[0].tolist()[: len(steps)]
    assert len(steps) >= len(pretrained.curve("train/loss")[0]) - 1


@pytest.mark.parametrize(
    ("damage", "main", "program", "argv", "message"),
    CASES,
    ids=[f"{c[2]}-{c[0].__name__}" for c in CASES],
)
def test_a_damaged_or_misplaced_run_folder_is_one_line_and_exit_2(
    pretrained: RunFolder, tmp_path, capsys, monkeypatch, damage, main, program, argv, message
):
    run = tmp_path / "run"
    shutil.copytree(pretrained.path, run)
    damage(run)
    monkeypatch.chdir(tmp_path)  # where a script would write by default (runs/, multiruns/)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    monkeypatch.setattr(sys, "argv", [program])
    with pytest.raises(SystemExit) as exit_:
        console(main, program)([str(a) for a in argv(run)])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{program}: error: ") and message in lines[0]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
