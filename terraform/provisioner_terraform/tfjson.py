"""Terraform JSON from Python without Node or CDKTF: a small builder checked against the provider schema.

Example::

    stack = Stack()
    zone = stack.data("provisioner_zone", "lab", name="lab-zone")
    vm = stack.resource("provisioner_instance", "web", zone=zone.id, template="cirros", service_offering="tiny")
    stack.output("ip", vm.ip_address)
    stack.write(Path("main.tf.json"))

Attribute names are checked when they are set (an unknown one raises :class:`TerraformJsonError` with the
closest valid name), required ones when the document is built, and references (``vm.ip_address``) only
name attributes the type has. Other providers' types pass through unchecked.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from provisioner.exceptions import ProvisionerError
from provisioner_terraform import SOURCE, VERSION
from provisioner_terraform.schema_export import TypeSchema, data_source_schemas, resource_schemas

#: Meta-arguments every resource and data source accepts.
META = frozenset({"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"})


class TerraformJsonError(ProvisionerError, ValueError):
    """A configuration built in Python does not fit the provider schema."""


def _schemas() -> dict[tuple[str, str], TypeSchema]:
    return {(s.kind, s.type_name): s for s in [*resource_schemas(), *data_source_schemas()]}


class Ref:
    """A resource or data source in the stack; attribute access gives ``${...}`` references.

    ``vm.ip_address`` is ``"${provisioner_instance.web.ip_address}"``; ``vm.ref("name")`` is the same for any
    attribute. The declaration itself lives in private fields so no attribute name is shadowed.
    """

    __slots__ = ("_kind", "_label", "_schema", "_type")

    def __init__(self, kind: str, type_name: str, label: str, schema: TypeSchema | None) -> None:
        self._kind, self._type, self._label, self._schema = kind, type_name, label, schema

    def __repr__(self) -> str:
        return f"Ref({self.address()!r})"

    def address(self) -> str:
        """``provisioner_instance.web`` or ``data.provisioner_zone.lab``."""
        prefix = "data." if self._kind == "data" else ""
        return f"{prefix}{self._type}.{self._label}"

    def ref(self, attribute: str) -> str:
        """The interpolation of one attribute, checked against the schema."""
        if self._schema is not None and self._schema.attribute(attribute) is None:
            raise TerraformJsonError(f"{self.address()} has no attribute {attribute!r}{_hint(attribute, self._schema)}")
        return f"${{{self.address()}.{attribute}}}"

    def __getattr__(self, attribute: str) -> str:
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return self.ref(attribute)


def _hint(name: str, schema: TypeSchema) -> str:
    names = [a.name for a in schema.attributes] + list(schema.blocks)
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (valid: {', '.join(sorted(names))})"


class Stack:
    """One Terraform root module as JSON.

    Args:
        provider: the ``provider "provisioner"`` block's attributes (default empty: all from the environment).
        backend_path: a local backend state path (relative paths keep the output relocatable).
    """

    def __init__(self, provider: dict[str, Any] | None = None, backend_path: str | None = None) -> None:
        self._schemas = _schemas()
        self._document: dict[str, Any] = {
            "terraform": {"required_providers": {"provisioner": {"source": SOURCE, "version": VERSION}}},
            "provider": {"provisioner": dict(provider or {})},
        }
        if backend_path is not None:
            self._document["terraform"]["backend"] = {"local": {"path": backend_path}}
        self._pending: list[tuple[str, TypeSchema, dict[str, Any]]] = []

    def _add(self, kind: str, type_name: str, name: str, attributes: dict[str, Any]) -> Ref:
        schema = self._schemas.get((kind, type_name))
        if schema is None and type_name.startswith("provisioner_"):
            raise TerraformJsonError(f"the provisioner provider has no {kind} type {type_name!r}")
        if schema is not None:
            for key in attributes:
                attribute = schema.attribute(key)
                if key in META or key in schema.blocks:
                    continue
                where = f'{kind} "{type_name}" "{name}"'
                if attribute is None:
                    raise TerraformJsonError(f"{where}: unknown attribute {key!r}{_hint(key, schema)}")
                if not attribute.settable:
                    raise TerraformJsonError(f"{where}: {key!r} is computed by the provider and cannot be set")
            self._pending.append((name, schema, attributes))
        section = self._document.setdefault(kind, {}).setdefault(type_name, {})
        if name in section:
            raise TerraformJsonError(f"{kind} {type_name}.{name} is declared twice")
        section[name] = {key: value for key, value in attributes.items() if value is not None}
        return Ref(kind, type_name, name, schema)

    def resource(self, type_name: str, label: str, /, **attributes: Any) -> Ref:
        """Declare ``resource "<type_name>" "<label>"``; returns a reference to its attributes."""
        return self._add("resource", type_name, label, attributes)

    def data(self, type_name: str, label: str, /, **attributes: Any) -> Ref:
        """Declare ``data "<type_name>" "<label>"``; returns a reference to its attributes."""
        return self._add("data", type_name, label, attributes)

    def output(self, name: str, value: Any, *, sensitive: bool = False) -> None:
        """Declare an output."""
        block: dict[str, Any] = {"value": value}
        if sensitive:
            block["sensitive"] = True
        self._document.setdefault("output", {})[name] = block

    def to_dict(self) -> dict[str, Any]:
        """The document, after checking every required attribute is set."""
        for name, schema, attributes in self._pending:
            missing = [a.name for a in schema.attributes if a.required and attributes.get(a.name) is None]
            if missing:
                raise TerraformJsonError(
                    f'{schema.kind} "{schema.type_name}" "{name}": missing required {", ".join(missing)}'
                )
        return json.loads(json.dumps(self._document))  # type: ignore[no-any-return]

    def write(self, path: Path) -> Path:
        """Write ``main.tf.json`` (or the given file) and return its path."""
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return path
