"""Moved to :mod:`provisioner.services.configuration`; kept for ``services/compute/settings.py``, which imports
``config_value`` from here."""

from __future__ import annotations

from provisioner.services.configuration import config_value

__all__ = ["config_value"]
