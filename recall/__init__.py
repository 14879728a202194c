"""recall: a testbed for studying how language models learn facts during training."""

__version__ = "0.1.0"
