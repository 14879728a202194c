"""The decoder-only transformer and the LightningModule that trains it."""
