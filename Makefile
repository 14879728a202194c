# The two commands of the README: `make train` (install + default run) and `make test`.
PYTHON ?= python3
PIP := $(PYTHON) -m pip install --quiet --constraint constraints.txt

.PHONY: install install-hf train test test-slow lint strip-notebooks reproduce bench

install:
	$(PIP) --editable ".[dev]"

install-hf:  # with the optional Hugging Face extra, whose interop tests are in the slow suite
	$(PIP) --editable ".[dev,hf,interop]"

train: install
	recall-train

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

test: install lint  # one worker per core (pytest-xdist), whole files each: tests/conftest.py
	$(PYTHON) -m pytest -n auto --dist loadfile --no-loadscope-reorder

test-slow: install-hf
	$(PYTHON) -m pytest -m slow --durations=0

reproduce: install
	recall-reproduce

bench: install
	$(PYTHON) -m benchmarks.run

strip-notebooks:
	$(PYTHON) notebooks/strip_outputs.py notebooks/*.ipynb notebooks/interop/*.ipynb
