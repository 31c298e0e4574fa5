"""End-to-end tests of the compute drivers on real hypervisors."""
