"""Console scripts' exits: Ctrl-C says how to go on, with the program's own advice first."""

import pytest

from recall.cli import EXIT_INTERRUPTED, reported


@pytest.mark.parametrize(
    ("on_interrupt", "expected"),
    [
        ("", "recall-train: interrupted; resume with ckpt_path=run/checkpoints/last.ckpt"),
        # recall-reproduce goes on with --out, not from the checkpoint of the run it was in
        ("run it again with --out r", "recall-reproduce: interrupted; run it again with --out r"),
    ],
)
def test_ctrl_c_exits_130_with_one_hint(capsys, on_interrupt, expected):
    program = expected.split(":")[0]
    with pytest.raises(SystemExit) as exit_, reported(program, on_interrupt):
        raise KeyboardInterrupt("resume with ckpt_path=run/checkpoints/last.ckpt")
    assert exit_.value.code == EXIT_INTERRUPTED
    assert capsys.readouterr().err == expected + "\n"
