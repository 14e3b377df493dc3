"""Loading a bundle's ``model.keras`` back into Keras.

The file names catembed's own layers and optimizers (``catembed>ShrunkEmbedding``,
``catembed>TableOptimizer``, ...); Keras finds them only once their modules have registered
them, so loading goes through here rather than through ``keras.saving.load_model`` alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_keras_model(path: str | Path) -> Any:
    """The trained Keras model of a bundle file, with its optimizer state."""
    import keras

    import training.loop.row_optimizer
    import training.loop.table_optimizer
    import training.model.batch_ensemble
    import training.model.mixed_embedding
    import training.model.numeric_embedding
    import training.model.shrunk_embedding  # noqa: F401  each registers its classes with Keras

    return keras.saving.load_model(Path(path))
