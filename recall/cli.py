"""What every console script does with a user's mistake: one line on stderr, exit status 2.

recall-train, -finetune, -generate, -compare, -plot, -analyze, -export and -reproduce do
their work inside `reported(program)`: a ConfigError (a bad config value, a missing or
wrong path, an unreadable run folder) or an OSError (a file that cannot be read or
written) becomes `<program>: error: <what is wrong>` and exit status 2, with no
traceback; Ctrl-C becomes exit status 130, with how to continue if the script can.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

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
