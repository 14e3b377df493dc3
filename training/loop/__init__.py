"""Fitting: the settings, the compiled network, the trainers, ensembles and out-of-fold vectors."""
