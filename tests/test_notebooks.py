"""Notebooks: committed without outputs, and every one runs end to end (slow)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.conftest import run_notebook

FOLDER = Path(__file__).parents[1] / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))  # one per finding
EVERY_NOTEBOOK = sorted(FOLDER.rglob("*.ipynb"))  # with interop/ (tests/test_export_notebook.py)


def test_there_is_a_notebook_per_finding():
    assert len(NOTEBOOKS) == 6


@pytest.mark.parametrize("path", EVERY_NOTEBOOK, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    dirty = [
        i
        for i, c in enumerate(book.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; run `make strip-notebooks`"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_end_to_end(path, tmp_path):
    """Run in a temporary folder (its runs/ go there); a cell error or unrendered figure fails."""
    _, shown = run_notebook(path, tmp_path)
    figures = [o for o in shown if "image/png" in o["data"]]
    as_text = [
        o for o in shown if o not in figures and o["data"]["text/plain"].startswith("<Figure")
    ]
    assert figures, f"{path.name} showed no figure"
    assert not as_text, f"{path.name}: a figure was shown as text (no inline backend?)"
