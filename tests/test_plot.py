"""recall-plot: every figure a run's metrics allow, as PNG and PDF, for runs and sweeps."""

from __future__ import annotations

import matplotlib.image
import pytest

from recall.plot import main
from recall.train import train
from tests.conftest import TINY_RUN

RUN_FIGURES = ("phases", "attention", "hallucination", "frequency_buckets")


def test_plots_a_sweep_and_its_runs_at_print_resolution(make_cfg, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    for job, extra in enumerate((["callbacks=default"], ["callbacks=none"])):
        overrides = [*TINY_RUN, "trainer.max_steps=100", "eval.every=25", *extra]
        train(make_cfg(*overrides, run=f"sweep/{job}"))
    main([str(sweep)])
    for stem in RUN_FIGURES:
        png, pdf = sweep / "0" / "figures" / f"{stem}.png", sweep / "0" / "figures" / f"{stem}.pdf"
        assert pdf.read_bytes().startswith(b"%PDF")
        assert matplotlib.image.imread(png).shape[1] >= 3.4 * 300 * 0.9  # a column at 300 dpi
    # without dynamics callbacks there is nothing to draw circuits or hallucination from
    drawn = {p.stem for p in (sweep / "1" / "figures").glob("*.png")}
    assert drawn == {"phases", "frequency_buckets"}
    assert (sweep / "figures" / "comparison.pdf").is_file()
    assert "recall-plot: wrote 14 files" in capsys.readouterr().out


def test_a_folder_without_runs_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run folders" in err
