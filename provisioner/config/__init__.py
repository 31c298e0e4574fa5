"""Loading topology files: YAML with source positions, validation with every problem at once."""

from provisioner.config.loader import load_text, load_topology

__all__ = ["load_text", "load_topology"]
