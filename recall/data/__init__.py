"""Synthetic biographies: population, templates, tokenizer, sampling and the datamodule."""
