"""Turn pydantic's validation errors into findings that name the value and say what to write."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import date
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from provisioner.config.rules.base import Finding, Loc
from provisioner.model import Cloud, CredentialRef

_SECRET_WORDS = ("password", "passwd", "secret", "token", "api_key", "apikey", "private_key")
_SECRET_HINT = "secrets are references, never inline: write credentials: {env: VAR} (or {file: PATH}, {vault: NAME})"
_PATTERN_ADVICE = {
    "env": "write an environment variable name: letters, digits and _, not starting with a digit",
    "vault": "write an Ansible Vault variable name: letters, digits and _, not starting with a digit",
    "iqn": "write an iSCSI name like iqn.2024-01.org.example:pool1 (or eui./naa. forms)",
    "path": "write an absolute path, starting with /",
}
_KINDS = {
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "float_type": "a number",
    "float_parsing": "a number",
}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` (list indexes are skipped)."""
    model: type[BaseModel] | None = Cloud
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None
        model = _find_model(field.annotation)
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _unknown_key(loc: Loc) -> Finding:
    key = str(loc[-1])
    model = _model_at(loc[:-1])
    fields = list(model.model_fields) if model is not None else []
    hint: str | None = None
    lowered = key.lower()
    if any(word in lowered for word in _SECRET_WORDS) or difflib.get_close_matches(lowered, _SECRET_WORDS, cutoff=0.8):
        hint = _SECRET_HINT
    elif close := difflib.get_close_matches(key, fields, n=1, cutoff=0.6):
        hint = f"did you mean {close[0]!r}?"
    what = f" of a {_label(model)}" if model is not None else ""
    message = f"unknown key {key!r}{what}"
    if hint is None and fields:
        message += f": known keys are {', '.join(fields)}"
    return Finding(loc, message, hint, on_key=True)


def _label(model: type[BaseModel]) -> str:
    """``ManagementServer`` -> ``management server``."""
    name = model.__name__
    return "".join(f" {c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _message(error: ErrorDetails, key: str, item: bool = False) -> str:
    """One sentence: the value, what is wrong, and what to write instead.

    Args:
        error: pydantic's error.
        key: the nearest key above the value.
        item: the value is an item of the list under ``key``.
    """
    kind, value, ctx = error["type"], error["input"], error.get("ctx", {})
    shown = _show(value)
    subject = f"each item of {key}" if item else key
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    if kind == "missing":
        return f"required key {key!r} is missing: add {key}: <value>"
    if kind in ("enum", "literal_error"):
        return f"{shown} is not a valid {key}: write one of {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return f"{shown} is not a valid {key}: " + _PATTERN_ADVICE.get(key, f"it must match {ctx.get('pattern')}")
    if kind == "string_too_short":
        return f"{'an item of ' + key if item else key} is empty: write at least {ctx.get('min_length')} character(s)"
    if kind == "string_too_long":
        return f"{shown} is too long: {key} takes at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"{key} has {ctx.get('actual_length')} item(s): list at least {ctx.get('min_length')}"
    if kind == "too_long":
        return f"{key} has {ctx.get('actual_length')} item(s): list at most {ctx.get('max_length')}"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values()), "?")
        return f"{shown} is out of range for {key}: write a number {bounds[kind]} {limit}"
    if kind == "string_type" and isinstance(value, int | float | date):
        return f"{shown} is not text: quote it ('{shown}')"
    if kind in _KINDS:
        if value is None:
            return f"{subject} has no value: write {_KINDS[kind]}"
        return f"{shown} is not {_KINDS[kind]}: write {subject} as {_KINDS[kind]}"
    if kind == "int_from_float":
        return f"{shown} is not a whole number: write {key} without a fraction"
    return f"{shown}: {error['msg']}"


def _normalise(loc: tuple[int | str, ...], data: Any) -> tuple[Loc, int | None, bool]:
    """Drop pydantic's union tags from a location by walking the data.

    Returns:
        The location in the document, the depth at which a union tag was dropped (or ``None``),
        and whether the error is about a mapping key rather than its value.
    """
    out: list[str | int] = []
    tagged: int | None = None
    on_key = False
    node = data
    last = len(loc) - 1
    for index, part in enumerate(loc):
        if part == "[key]":
            on_key = True
        elif isinstance(node, dict) and (part in node or (index == last and isinstance(part, str))):
            out.append(part)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            out.append(part)
            node = node[part] if 0 <= part < len(node) else None
        elif tagged is None:
            tagged = len(out)
    return tuple(out), tagged, on_key


def _choice_hint(error: ErrorDetails) -> str | None:
    """A did-you-mean for a misspelt enum or literal value (``kvmm`` -> ``kvm``)."""
    if error["type"] not in ("enum", "literal_error") or not isinstance(error["input"], str):
        return None
    choices = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
    close = difflib.get_close_matches(error["input"], choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _key(loc: Loc) -> str:
    return next((str(part) for part in reversed(loc) if isinstance(part, str)), "value")


def _is_item(loc: Loc) -> bool:
    return bool(loc) and isinstance(loc[-1], int)


def findings_from(error: ValidationError, data: Any) -> list[Finding]:
    """Findings for every pydantic error, one per place (union alternatives are merged).

    Args:
        error: the validation error of ``Cloud.model_validate(data)``.
        data: the raw document that was validated.
    """
    plain: list[Finding] = []
    unions: dict[Loc, list[tuple[Loc, ErrorDetails]]] = {}
    for detail in error.errors(include_url=False):
        loc, tagged, on_key = _normalise(detail["loc"], data)
        if tagged is not None:
            unions.setdefault(loc[:tagged], []).append((loc, detail))
            continue
        if detail["type"] == "extra_forbidden":
            plain.append(_unknown_key(loc))
            continue
        if detail["type"] == "model_type" and _model_at(loc) is CredentialRef:
            # Never echo the value: it is likely the secret itself.
            plain.append(Finding(loc, f"{_key(loc)} is a reference to a secret, not the secret", _SECRET_HINT))
            continue
        plain.append(Finding(loc, _message(detail, _key(loc), _is_item(loc)), _choice_hint(detail), on_key))
    for prefix, alternatives in unions.items():
        plain.extend(_union(prefix, alternatives))
    return plain


def _union(prefix: Loc, alternatives: list[tuple[Loc, ErrorDetails]]) -> Iterable[Finding]:
    """Keep the errors of the branch the value matched in shape, or say which shapes it may take."""
    deeper = [(loc, detail) for loc, detail in alternatives if len(loc) > len(prefix)]
    key = _key(prefix)
    if deeper:
        for loc, detail in deeper:
            yield Finding(loc, _message(detail, _key(loc), _is_item(loc)))
        return
    shapes = []
    for _, detail in alternatives:
        shape = _KINDS.get(detail["type"]) or str(detail.get("ctx", {}).get("expected", "")) or detail["msg"]
        shapes.append(shape)
    value = alternatives[0][1]["input"]
    yield Finding(prefix, f"{_show(value)} is neither {' nor '.join(shapes)}: write {key} as one of them")
