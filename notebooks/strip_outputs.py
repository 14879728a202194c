"""Remove outputs and execution counts from notebooks, in place: they are committed clean
(tests/test_notebooks.py checks), so diffs show code, not results.

python notebooks/strip_outputs.py notebooks/*.ipynb      (or: make strip-notebooks)
"""

import sys

import nbformat

for path in sys.argv[1:]:
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(book, path)
