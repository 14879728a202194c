"""What every console script does with a user's mistake: one line on stderr, exit status 2.

recall-train, -finetune, -generate, -compare, -plot, -analyze, -export and -reproduce do
their work inside `reported(program)`: a ConfigError (a bad config value, a missing or
wrong path, an unreadable run folder) or an OSError (a file that cannot be read or
written) becomes `<program>: error: <what is wrong>` and exit status 2, with no
traceback; Ctrl-C becomes exit status 130, with how to continue if the script can. The Hydra
entry points first compose their config from the command line (`checked_command_line`),
so that what Hydra itself would reject (an unknown key or group option, an unparsable
value) gets the same one line and exit status.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from hydra.errors import HydraException, OverrideParseException

from recall.config import compose
from recall.errors import ConfigError

EXIT_ERROR = 2  # bad input: nothing was started, nothing written
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports it


@contextmanager
def reported(program: str, on_interrupt: str = "") -> Iterator[None]:
    """Run a console script's work, turning user errors and Ctrl-C into exit statuses."""
    try:
        yield
    except (ConfigError, OSError) as err:
        print(f"{program}: error: {err}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        hint = f"; {on_interrupt}" if on_interrupt else ""
        print(f"{program}: interrupted{hint}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)


def checked_command_line(program: str, config: str, argv: Sequence[str]) -> None:
    """Compose `config` with the command line's overrides, reporting Hydra's errors as
    one line and exit status 2. Flags (-m, --help, ...) and hydra.* overrides are left to
    Hydra, which handles them itself."""
    if any(a.startswith("-") or a.lstrip("+~").startswith("hydra") for a in argv):
        return
    with reported(program):
        try:
            compose(config, argv)
        except HydraException as err:
            raise ConfigError(hydra_message(err)) from None


def hydra_message(err: HydraException) -> str:
    """Hydra's message on one line: without its search path, options listed inline."""
    lines = [ln.strip() for ln in str(err).split("Config search path:")[0].splitlines()]
    lines = [ln for ln in lines if ln]
    if len(lines) > 1 and lines[1].startswith("Available options"):
        return f"{lines[0]}; {lines[1].rstrip(':').lower()}: {', '.join(lines[2:])}"
    prefix = "cannot parse an override: " if isinstance(err, OverrideParseException) else ""
    return prefix + " ".join(ln if ln.endswith(".") else f"{ln};" for ln in lines).rstrip(";")
