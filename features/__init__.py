"""The shared encoding contract of catembed.

Everything that turns a raw record into model inputs lives here, and both sides import it:
``training`` fits it, ``app`` applies it. Nothing in this package imports TensorFlow, pandas
or scikit-learn at module level, so the serving process stays small and starts fast.
"""

FORMAT_VERSION = 2
"""2: the encoders as JSON + .npz (features.encoder_state); 1 pickled them (refused; `catembed upgrade-bundle`)."""
