"""The one exception type that the command line turns into a one-line message."""


class ConfigError(ValueError):
    """Invalid user input: the message says what is wrong and how to fix it."""
