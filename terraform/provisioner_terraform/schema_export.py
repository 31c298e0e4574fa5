"""The provider schema as plain data, for code generation and for checking hand-made Terraform JSON.

One :class:`TypeSchema` per resource and data source, built from the same ``tf`` schema objects the
provider serves, so the CDKTF constructs (generated from it) and :mod:`provisioner_terraform.tfjson`
(validated against it) cannot drift from the provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provisioner_terraform.provider import DATA_SOURCES, RESOURCES, SCHEMA

PREFIX = "provisioner_"


@dataclass(frozen=True)
class AttributeSchema:
    """One attribute: name, Terraform type expression (``string``, ``map(string)``...), and its flags."""

    name: str
    type: str
    description: str
    required: bool
    optional: bool
    computed: bool
    sensitive: bool

    @property
    def settable(self) -> bool:
        """Whether a configuration may set it."""
        return self.required or self.optional


@dataclass(frozen=True)
class TypeSchema:
    """A resource, data source or the provider block: attributes and nested block names."""

    type_name: str
    kind: str  # "resource", "data" or "provider"
    description: str
    attributes: tuple[AttributeSchema, ...]
    blocks: tuple[str, ...]

    def attribute(self, name: str) -> AttributeSchema | None:
        """The attribute of that name, if any."""
        return next((a for a in self.attributes if a.name == name), None)


def type_expression(kind: Any) -> str:
    """Terraform's spelling of a ``tf`` type (``string``, ``list(map(string))``...)."""
    from tf import types

    if isinstance(kind, types.Set):
        return f"set({type_expression(kind.element_type)})"
    if isinstance(kind, types.List):
        return f"list({type_expression(kind.element_type)})"
    if isinstance(kind, types.Map):
        return f"map({type_expression(kind.element_type)})"
    if isinstance(kind, types.Bool):
        return "bool"
    if isinstance(kind, types.Number):
        return "number"
    return "string"


def _describe(type_name: str, kind: str, schema: Any) -> TypeSchema:
    return TypeSchema(
        type_name=type_name,
        kind=kind,
        description=schema.description or "",
        attributes=tuple(
            AttributeSchema(
                name=a.name,
                type=type_expression(a.type),
                description=a.description or "",
                required=bool(a.required),
                optional=bool(a.optional),
                computed=bool(a.computed),
                sensitive=bool(a.sensitive),
            )
            for a in schema.attributes
        ),
        blocks=tuple(b.type_name for b in schema.block_types),
    )


def provider_schema() -> TypeSchema:
    """The provider block."""
    return _describe("provisioner", "provider", SCHEMA)


def resource_schemas() -> list[TypeSchema]:
    """Every resource, in the provider's order."""
    return [_describe(PREFIX + r.get_name(), "resource", r.get_schema()) for r in RESOURCES]


def data_source_schemas() -> list[TypeSchema]:
    """Every data source, in the provider's order."""
    return [_describe(PREFIX + d.get_name(), "data", d.get_schema()) for d in DATA_SOURCES]
