"""Resources: one module per resource type."""
