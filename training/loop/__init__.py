"""Fitting: the settings and their "auto" rules, the one orchestrator both routes train through,
how a network is compiled and fitted, ensembles and out-of-fold vectors."""
