"""An ensemble of K networks in one bundle: trained apart, served as one graph.

Each member is the default network trained from its own seed (its own initialisation, dropout
masks and batch order) on the same rows, with its own early stopping: K seeds averaged, the
plainest ensemble and the one measured (docs/decisions.md: ensemble). With
``ensemble_holdout="folds"`` member k instead early-stops on the k-th of K folds of every row
and trains on the rest (training.data.split.stratified_folds; in memory only, and no better on
the bench: docs/decisions.md: ensemble-holdout). The bundle holds one Keras model
whose output is the members' mean (the source of truth); training/export/ensemble_graph.py
stitches the members' NumPy graphs into one computing the same.
"""

from __future__ import annotations

import keras


def combine(members: list[keras.Model]) -> keras.Model:
    """One model on the members' inputs whose output is the mean of theirs."""
    if len(members) == 1:
        return members[0]
    inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype, name=t.name.split(":")[0]) for t in members[0].inputs]
    wrapped = [keras.Model(m.inputs, m.outputs[0], name=f"member_{k}") for k, m in enumerate(members)]
    outputs = [member(inputs) for member in wrapped]
    return keras.Model(inputs, keras.layers.Average(name="member_mean")(outputs), name="catembed_ensemble")
