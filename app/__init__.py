"""The catembed REST service. Imports ``features`` only — never ``training`` or TensorFlow."""

__version__ = "0.1.0"
