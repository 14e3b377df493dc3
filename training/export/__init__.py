"""After fitting: the NumPy graph export, the training report, the bundle and embedding exports."""
