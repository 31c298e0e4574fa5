"""Tests of provisioner.compute."""
