"""The Keras network: the joint embedding model and its custom layers (shrunk tables, numeric
embeddings, the batch ensemble)."""
