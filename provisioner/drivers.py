"""Plumbing every driver area shares: the lazy driver registry and settings validation.

Compute (``provisioner.compute.registry``) and storage (``provisioner.storage.registry``) each keep one
:class:`LazyRegistry` behind their module functions (``get_driver``, ``set_driver``, ``available_drivers``).
Built-ins are ``module:Class`` strings imported on first use, so optional extras (``libvirt-python``...)
are needed only by the clouds that use them; outside packages add drivers through an entry-point group.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

import pydantic

from provisioner.exceptions import DriverNotAvailableError, DriverNotFoundError, DriverSettingsError

D = TypeVar("D")
S = TypeVar("S", bound=pydantic.BaseModel)


class StrictSettings(pydantic.BaseModel):
    """Base of every driver area's settings; unknown keys are refused so a typo fails at start-up."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


def format_validation(error: pydantic.ValidationError) -> str:
    """Render a pydantic error as ``field: why; field: why``."""
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "<settings>"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def validate_settings(model: type[S], settings: Mapping[str, Any] | pydantic.BaseModel | None, what: str) -> S:
    """Validate raw settings (or another settings model's values) against ``model``.

    Args:
        model: the driver's ``settings_model``.
        settings: a mapping, a settings instance, or None for the defaults.
        what: the driver as the error names it, e.g. ``"libvirt driver"``.

    Raises:
        DriverSettingsError: naming the driver, each bad field and why.
    """
    if isinstance(settings, model):
        return settings
    raw = settings.model_dump() if isinstance(settings, pydantic.BaseModel) else dict(settings or {})
    try:
        return model.model_validate(raw)
    except pydantic.ValidationError as error:
        raise DriverSettingsError(f"invalid settings for the {what}: {format_validation(error)}") from None


class LazyRegistry(Generic[D]):
    """Driver classes by name: built-ins and ``set_driver`` entries first, then the entry-point group.

    Args:
        base: the class every driver must subclass.
        group: the entry-point group outside packages register drivers in.
        builtins: registry name to ``module:Class``.
        noun: what a driver is called in "no ... named" errors (``"compute driver"``).
        label: what a driver is called in "... points at" errors (``"driver"``).
        planned: names reserved for drivers not written yet (offered as close matches too).
        planned_message: the error for a planned name, with ``{name}`` in it.
        extras: per built-in, the Python module it needs and the ``provisioner[extra]`` that brings it.
    """

    def __init__(
        self,
        # type[Any], not type[D]: mypy refuses an abstract class where type[D] is expected.
        base: type[Any],
        *,
        group: str,
        builtins: Mapping[str, str],
        noun: str,
        label: str,
        planned: Mapping[str, str] | None = None,
        planned_message: str = "",
        extras: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self.base: type[Any] = base
        self.group = group
        self.builtins = builtins
        self.noun = noun
        self.label = label
        self.planned = planned or {}
        self.planned_message = planned_message
        self.extras = extras or {}
        self.registered: dict[str, str | type[D]] = {}
        self.loaded: dict[str, type[D]] = {}
        self._lock = threading.Lock()

    def set_driver(self, name: str, driver: str | type[D]) -> None:
        """Register (or replace) a driver under ``name``: a class or a ``module:Class`` string."""
        with self._lock:
            self.registered[name] = driver
            self.loaded.pop(name, None)

    def _entry_point_drivers(self) -> dict[str, str]:
        return {ep.name: ep.value for ep in entry_points(group=self.group)}

    def available_drivers(self) -> list[str]:
        """Names :meth:`get_driver` accepts (built-ins, entry points, registered), sorted."""
        return sorted({*self.builtins, *self._entry_point_drivers(), *self.registered})

    def _import(self, name: str, target: str) -> type[D]:
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            missing_module, extra = self.extras.get(name, (None, None))
            if missing_module is not None and error.name == missing_module:
                raise DriverNotAvailableError(
                    f"the {name} driver needs the Python module {missing_module!r}: pip install 'provisioner[{extra}]'"
                ) from error
            raise
        driver = getattr(module, attr, None)
        if not (isinstance(driver, type) and issubclass(driver, self.base)):
            raise DriverNotFoundError(
                f"{self.label} {name!r} points at {target!r}, which is not a {self.base.__name__} subclass"
            )
        return driver

    def get_driver(self, name: str) -> type[D]:
        """Return the driver class registered under ``name``, importing its module on first use.

        Raises:
            DriverNotAvailableError: the driver is planned but not written yet, or its extra is missing.
            DriverNotFoundError: no driver by that name (the message suggests close names).
        """
        with self._lock:
            cached = self.loaded.get(name)
            if cached is not None:
                return cached
            target: str | type[D] | None = self.registered.get(name) or self.builtins.get(name)
        if target is None:
            target = self._entry_point_drivers().get(name)
        if target is None:
            if name in self.planned:
                raise DriverNotAvailableError(self.planned_message.format(name=name))
            known = self.available_drivers()
            close = difflib.get_close_matches(name, [*known, *self.planned], n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise DriverNotFoundError(f"no {self.noun} named {name!r}{hint} (known: {', '.join(known)})")
        driver = target if isinstance(target, type) else self._import(name, target)
        with self._lock:
            self.loaded[name] = driver
        return driver
