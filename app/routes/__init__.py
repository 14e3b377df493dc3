"""HTTP routes, one module per resource. They parse nothing themselves: the core does."""
