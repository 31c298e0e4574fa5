"""ansible."""
