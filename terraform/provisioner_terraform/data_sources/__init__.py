"""Data sources: find one entity by ``id`` or ``name`` and expose its fields.

Each data source is a :class:`LookupDataSource` that declares its list command, the list key, optional
filter attributes and the fields it exposes; the schema, the lookup and the error messages follow from
that declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tf.schema import Attribute, Schema
from tf.types import Map, String, TfType

from provisioner_terraform.api import UUID_RE, Lookup, ProviderFailure
from provisioner_terraform.base import ProviderDataSource, State, known

if TYPE_CHECKING:
    from provisioner.client import Json


def tag_map(row: Json) -> dict[str, str]:
    """A response's ``tags`` list as a map."""
    return {str(t["key"]): str(t.get("value", "")) for t in row.get("tags") or [] if isinstance(t, dict)}


@dataclass(frozen=True)
class Field:
    """One exposed attribute: where it comes from in the API answer, its type, and a description."""

    attribute: str
    key: str
    type: TfType = field(default_factory=String)
    description: str = ""
    convert: Callable[[Json], Any] | None = None

    def value(self, row: Json) -> Any:
        """The attribute's value in one answer row."""
        return self.convert(row) if self.convert is not None else row.get(self.key)


@dataclass(frozen=True)
class Filter:
    """An optional input that narrows the lookup: the attribute, the list parameter, and a lookup for names."""

    attribute: str
    param: str
    description: str
    resolve: Lookup | None = None
    default: str | None = None


class LookupDataSource(ProviderDataSource):
    """A data source over one ``list*`` command."""

    lookup: ClassVar[Lookup]
    fields: ClassVar[tuple[Field, ...]]
    filters: ClassVar[tuple[Filter, ...]] = ()
    description: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "fields" in cls.__dict__:
            cls.schema = cls.build_schema()

    @classmethod
    def build_schema(cls) -> Schema:
        """``id`` and ``name`` (optional, computed), the filters, then the computed fields."""
        attributes = [
            Attribute("id", String(), optional=True, computed=True, description=f"The {cls.lookup.kind}'s id."),
            Attribute("name", String(), optional=True, computed=True, description=f"The {cls.lookup.kind}'s name."),
        ]
        attributes += [Attribute(f.attribute, String(), optional=True, description=f.description) for f in cls.filters]
        attributes += [Attribute(f.attribute, f.type, computed=True, description=f.description) for f in cls.fields]
        return Schema(attributes=attributes, description=cls.description)

    def _read(self, config: State) -> State:
        kind = self.lookup.kind
        params: dict[str, Any] = {}
        for item in self.filters:
            value = config.get(item.attribute)
            value = value if known(value) else item.default
            if value is None:
                continue
            if item.resolve is not None:
                value = self.api.resolve(item.resolve, str(value), item.attribute)
            params[item.param] = value
        entity_id, name = config.get("id"), config.get("name")
        if known(entity_id):
            if not UUID_RE.match(str(entity_id)):
                raise ProviderFailure(f"Invalid {kind} id", f"{entity_id!r} is not a lower-case UUID.", "id")
            params["id"] = entity_id
        if known(name):
            params[self.lookup.filter_param] = name
        rows = self.api.items(self.lookup.command, self.lookup.key, **params)
        if known(name):
            rows = [row for row in rows if row.get(self.lookup.name_field) == name]
        # listTemplates answers one row per (template, zone): one entity may show several times.
        unique = list({str(row.get("id")): row for row in rows}.values())
        where = "id" if known(entity_id) else "name"
        if not unique:
            wanted = f"{where} {config.get(where)!r}" if known(config.get(where)) else "the given filters"
            raise ProviderFailure(f"No {kind} found", f"{self.lookup.command} finds no {kind} with {wanted}.", where)
        if len(unique) > 1:
            names = ", ".join(sorted(str(row.get(self.lookup.name_field)) for row in unique))
            raise ProviderFailure(
                f"More than one {kind} matches",
                f"{len(unique)} {kind}s match ({names}); set id or name to choose one.",
                where,
            )
        row = unique[0]
        state = dict(config)
        state["id"] = str(row["id"])
        state["name"] = row.get(self.lookup.name_field)
        for exposed in self.fields:
            state[exposed.attribute] = exposed.value(row)
        return state


TAGS = Field("tags", "tags", Map(String()), "Resource tags.", tag_map)
