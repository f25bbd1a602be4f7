"""Taking a function to AWS: the layer for the managed Python runtimes, project templates."""
