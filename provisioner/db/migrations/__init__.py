"""Alembic environment and revisions, shipped as package data and run by :mod:`provisioner.db.migrate`."""
