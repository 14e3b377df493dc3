"""Training side of catembed: data loading, spec inference, the Keras model, fit and export."""
