"""Built-in storage drivers, imported lazily by the registry."""
