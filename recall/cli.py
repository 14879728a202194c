"""What every console script does with a user's mistake: one line on stderr, exit status 2.

recall-train, -finetune, -generate, -compare, -plot, -analyze, -export and -reproduce do
their work inside `reported(program)`: a ConfigError (a bad config value, a missing or
wrong path, an unreadable run folder) or an OSError (a file that cannot be read or
written) becomes `<program>: error: <what is wrong>` and exit status 2, with no
traceback; Ctrl-C becomes exit status 130, with how to continue if the script can (the
KeyboardInterrupt's message, or `on_interrupt`). The Hydra
entry points first compose their config from the command line (`checked_command_line`),
so that what Hydra itself would reject (an unknown key or group option, an unparsable
value) gets the same one line and exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from hydra.core.hydra_config import HydraConfig

from recall.config import compose
from recall.errors import ConfigError
from recall.runs import write_atomically

EXIT_ERROR = 2  # bad input: nothing was started, nothing written
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports it


class ArgumentParser(argparse.ArgumentParser):
    """argparse for the scripts that are not Hydra entry points: a usage error is one line
    (what is wrong, and where the usage is), not the usage block, and exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_ERROR)


@contextmanager
def reported(program: str, on_interrupt: str = "") -> Iterator[None]:
    """Run a console script's work, turning user errors and Ctrl-C into exit statuses."""
    try:
        yield
    except (ConfigError, OSError) as err:
        print(f"{program}: error: {err}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt as interrupt:
        hint = on_interrupt or str(interrupt)  # the program's own, or the checkpoint to use
        hint = f"; {hint}" if hint else ""
        print(f"{program}: interrupted{hint}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)


@contextmanager
def sweep_job(program: str) -> Iterator[None]:
    """One job of a `-m` sweep: its failure (a bad value for this job, a crash) is one line
    on stderr and a `<sweep dir>/<job>.failed` file, and the sweep goes on to the next job;
    the sweep's summary lists the failed jobs (recall.compare.SweepSummary)."""
    try:
        yield
    except Exception as err:  # noqa: BLE001 (any failure of one job must not stop the others)
        hydra = HydraConfig.get()
        first = str(err).splitlines()[0] if str(err) else ""
        known = isinstance(err, ConfigError | OSError)
        reason = first if known else f"{type(err).__name__}: {first}".rstrip(": ")
        overrides = " ".join(hydra.overrides.task)
        print(f"{program}: job {hydra.job.num} ({overrides}) failed: {reason}", file=sys.stderr)
        failed = Path(hydra.sweep.dir) / f"{hydra.job.num}.failed"
        write_atomically(failed, f"{overrides}\n{reason}\n")


def checked_command_line(program: str, config: str, argv: Sequence[str]) -> None:
    """Compose `config` with the command line's overrides, reporting Hydra's errors as
    one line and exit status 2. Flags (-m, --help, ...) and hydra.* overrides are left to
    Hydra, which handles them itself."""
    if any(a.startswith("-") or a.lstrip("+~").startswith("hydra") for a in argv):
        return
    with reported(program):
        compose(config, argv)
