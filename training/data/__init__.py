"""Reading the training table: files, the resolved spec, row sources, the holdout split, the
statistics pass and the streamed batches."""
