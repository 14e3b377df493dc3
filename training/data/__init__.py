"""The training data: files, the resolved spec, the two routes' ``TrainingData`` (a table in
memory, files streamed), row sources, splits, the statistics pass and the streamed batches."""
