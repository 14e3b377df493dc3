"""The Open Inference Protocol v2 (KServe, Triton, MLServer) REST front door to the same Predictor."""
