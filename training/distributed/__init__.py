"""Training on many workers: TF_CONFIG clusters, the MultiWorkerMirroredStrategy loop and the
Ray launcher."""
