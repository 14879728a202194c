"""Analyses of a finished run's checkpoints, after the fact (`recall-analyze`).

snapshots.py    the run's checkpoints and the fixed inputs
activations.py  residual-stream activations at chosen positions, layer by layer
similarity.py   linear CKA and SVCCA between two sets of activations
probes.py       linear probes decoding attribute values from activations
"""
