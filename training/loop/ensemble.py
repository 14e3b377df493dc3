"""An ensemble of K networks in one bundle: trained apart, served as one graph.

Each member is the default network trained from its own seed (its own initialisation, dropout
masks and batch order) on the same rows, with its own early stopping: K seeds averaged, the
plainest ensemble and the one measured (docs/coverage.md). The bundle holds one Keras model
whose output is the members' mean (the source of truth); training/export/ensemble_graph.py
stitches the members' NumPy graphs into one computing the same.
"""

from __future__ import annotations

import keras
import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold


def member_folds(rows: int, members: int, seed: int, labels: np.ndarray | None = None) -> list[np.ndarray]:
    """The rows each member holds out (``ensemble_holdout="folds"``): K disjoint folds covering
    every row, stratified by class when every class has K rows. Member k trains on the other
    rows and early-stops on its fold, so every row trains K − 1 members and the ensemble as a
    whole learns from all of them, where a shared holdout leaves 20 % of the table unused. It
    did not beat the shared holdout on the bench (docs/coverage.md), so it is an option."""
    if labels is not None and np.unique(labels, return_counts=True)[1].min() >= members:
        splitter = StratifiedKFold(members, shuffle=True, random_state=seed).split(np.zeros(rows), labels)
    else:
        splitter = KFold(members, shuffle=True, random_state=seed).split(np.arange(rows))
    return [held for _, held in splitter]


def combine(members: list[keras.Model]) -> keras.Model:
    """One model on the members' inputs whose output is the mean of theirs."""
    if len(members) == 1:
        return members[0]
    inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype, name=t.name.split(":")[0]) for t in members[0].inputs]
    wrapped = [keras.Model(m.inputs, m.outputs[0], name=f"member_{k}") for k, m in enumerate(members)]
    outputs = [member(inputs) for member in wrapped]
    return keras.Model(inputs, keras.layers.Average(name="member_mean")(outputs), name="catembed_ensemble")
