"""notebooks/interop/transformerlens.ipynb: an exported run opened in TransformerLens.

It lives apart from the one-notebook-per-finding set (tests/test_notebooks.py) because it
needs the optional `interop` extra; without TransformerLens its run is skipped, saying so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_notebook

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "interop" / "transformerlens.ipynb"


@pytest.mark.slow
def test_notebook_runs_and_matches_the_logged_circuit(tmp_path):
    """Its own assertion checks TransformerLens's attr_to_name against metrics.csv."""
    for module in ("transformers", "transformer_lens"):
        pytest.importorskip(
            module, reason=f"{module} is not installed (the optional `interop` extra)"
        )
    book, shown = run_notebook(NOTEBOOK, tmp_path)
    assert any("image/png" in o["data"] for o in shown), "the notebook showed no figure"
    printed = "".join(
        o.get("text", "") for c in book.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "TransformerLens" in printed and "recall" in printed
