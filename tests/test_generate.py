"""recall-generate: the corpus files hold exactly what a run trains and evaluates on."""

import json
import subprocess
import sys

import numpy as np
import pytest
from tokenizers import Tokenizer as HFTokenizer

from recall.config import compose, to_dataclasses
from recall.data.corpus import Corpus
from recall.data.datamodule import BiographyDataModule, LoaderConfig
from recall.data.population import PopulationConfig, generate_population
from recall.data.schedules import build_schedule
from recall.generate import generate

DATA = ["data.n_individuals=60", "data.n_unseen=20", "data.n_eval=30", "data.batch_size=8"]


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "corpus"
    cfg = compose("generate", [f"out={out}", "n_biographies=20", "seed=4", *DATA])
    generate(cfg)
    population_config, loader = to_dataclasses(
        cfg.data, "data", PopulationConfig, LoaderConfig, seed=4
    )
    corpus = Corpus(generate_population(population_config))
    schedule = build_schedule({"name": "constant"}, loader.distribution, corpus.population.n_seen)
    return out, BiographyDataModule(corpus, loader, schedule, seed=4, steps=1)


def token_rows(batch):
    return [[i for i in row if i != 0] for row in batch.tokens.tolist()]


def test_training_biographies_are_the_runs_first_sequences(generated):
    out, datamodule = generated
    tokenizer = HFTokenizer.from_file(str(out / "tokenizer.json"))
    rows = read_jsonl(out / "train.jsonl")
    assert len(rows) == 20
    stream = datamodule.stream()
    expected = (
        token_rows(stream.batch(0)) + token_rows(stream.batch(1)) + token_rows(stream.batch(2))
    )
    assert [tokenizer.encode(r["text"]).ids for r in rows] == expected[:20]
    individuals = np.concatenate([stream.choices(s)[0] for s in range(3)])[:20]
    assert [r["individual"] for r in rows] == individuals.tolist()


def test_evaluation_files_are_the_runs_evaluation_sets(generated):
    out, datamodule = generated
    tokenizer = HFTokenizer.from_file(str(out / "tokenizer.json"))
    for name, split in (("heldout.jsonl", "seen"), ("unseen.jsonl", "unseen")):
        rows = read_jsonl(out / name)
        batch = datamodule.eval_batches[split]
        assert [tokenizer.encode(r["text"]).ids for r in rows] == token_rows(batch)
        assert [r["individual"] for r in rows] == batch.individuals.tolist()


def test_rows_carry_exact_character_spans_and_frames(generated):
    out, _ = generated
    individuals = {r["id"]: r for r in read_jsonl(out / "individuals.jsonl")}
    templates = json.loads((out / "templates.json").read_text())
    assert all(len(set(frames)) == 25 for frames in templates.values())
    for name, kind in (("train.jsonl", "train_templates"), ("heldout.jsonl", "heldout_templates")):
        for row in read_jsonl(out / name):
            person = individuals[row["individual"]]
            assert len(row["facts"]) == 6
            for fact in row["facts"]:
                assert row["text"][fact["start"] : fact["end"]] == fact["value"]
                assert fact["value"] == person["attributes"][fact["attribute"]]
                assert fact["template"] in person[kind][fact["attribute"]]
                assert person["name"] in row["text"][: fact["start"]]


def test_individuals_file_describes_the_population(generated):
    out, datamodule = generated
    rows = read_jsonl(out / "individuals.jsonl")
    assert [r["split"] for r in rows] == ["seen"] * 60 + ["unseen"] * 20
    assert sum(r["weight"] for r in rows) == pytest.approx(1.0)
    population = datamodule.corpus.population
    for r in rows:
        assert r["name"] == population.full_name(r["id"])
        for attribute, train in r["train_templates"].items():
            heldout = r["heldout_templates"][attribute]
            assert len(train) == 20 and len(heldout) == 5
            assert sorted(train + heldout) == list(range(25))


@pytest.mark.slow
def test_files_load_with_hugging_face_datasets(generated):
    datasets = pytest.importorskip("datasets", reason="the optional `hf` extra is not installed")
    out, _ = generated
    loaded = datasets.load_dataset("json", data_files=str(out / "train.jsonl"), split="train")
    assert loaded.num_rows == 20
    assert loaded[0]["facts"][0].keys() == {"attribute", "template", "value", "start", "end"}
    people = datasets.load_dataset("json", data_files=str(out / "individuals.jsonl"))
    assert people["train"].num_rows == 80


def test_an_existing_folder_is_refused_in_one_line(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = subprocess.run(
        [sys.executable, "-c", "from recall.generate import main; main()", f"out={out}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "already exists" in result.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
