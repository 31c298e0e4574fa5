"""Plans as text: a terraform-plan-like list of objects with ``+``/``~``/``-/+``/``-`` and their fields."""

from __future__ import annotations

from rich.text import Text

from provisioner.services.sync.model import SYMBOLS, Action, ActionType, Plan

_STYLES = {
    ActionType.CREATE: "green",
    ActionType.UPDATE: "yellow",
    ActionType.REPLACE: "magenta",
    ActionType.DELETE: "red",
}


def _quote(value: str | None) -> str:
    return "(none)" if value is None else f'"{value}"'


def render_action(action: Action) -> Text:
    """One object and its changed fields (``old → new`` for updates and replacements)."""
    style = _STYLES.get(action.type, "")
    resource = action.resource
    text = Text()
    text.append(f"{SYMBOLS[action.type]:>3} ", style=f"bold {style}")
    text.append(resource.kind.value.replace("_", " "), style="bold")
    text.append(f" {'/'.join(resource.key)}")
    if action.observed is not None and action.observed.id and action.type is not ActionType.CREATE:
        text.append(f"  (id {action.observed.id})", style="dim")
    if action.type is ActionType.REPLACE:
        text.append("  # a field that cannot change in place forces a replacement", style="dim")
    for change in action.changes:
        if action.type is ActionType.CREATE and not change.new:
            continue  # empty values (no tags...) say nothing about a new object
        text.append(f"\n      {change.field}: ")
        if action.type is ActionType.CREATE:
            text.append(_quote(change.new), style=style)
        else:
            text.append(_quote(change.old), style="red")
            text.append(" → ")
            text.append(_quote(change.new), style="green")
    return text


def render_plan(plan: Plan) -> Text:
    """The whole plan: every object that changes, then the summary line (unchanged objects only count)."""
    text = Text()
    for action in plan.actions:
        if action.type is not ActionType.UNCHANGED:
            text.append_text(render_action(action))
            text.append("\n")
    if not plan.has_changes:
        text.append("No changes. The server matches the topology.\n", style="green")
    text.append(plan.summary(), style="bold")
    return text
