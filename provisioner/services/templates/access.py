"""Who may use or change a template or ISO: SQL conditions, shared by deploys, listings and updates."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, select, true

from provisioner.db.schema import template_permission, vm_template
from provisioner.services.identity.visibility import account_pk, subtree_domain_ids
from provisioner.services.principal import Caller


def _shared_with(caller: Caller) -> ColumnElement[bool]:
    return exists(
        select(template_permission.c.id).where(
            template_permission.c.template_id == vm_template.c.id,
            template_permission.c.account_id == account_pk(caller),
        )
    )


def owned_condition(caller: Caller) -> ColumnElement[bool]:
    """Templates the caller administers: its own, its domain subtree's (domain admin), all (root admin)."""
    if caller.is_root_admin:
        return true()
    if caller.is_domain_admin:
        return vm_template.c.domain_id.in_(subtree_domain_ids(caller.domain_path))
    return vm_template.c.account_id == account_pk(caller)


def usable_condition(caller: Caller) -> ColumnElement[bool]:
    """Templates the caller may deploy from: administered, public, or shared with its account."""
    if caller.is_root_admin:
        return true()
    return or_(owned_condition(caller), vm_template.c.is_public.is_(True), _shared_with(caller))


def shared_condition(caller: Caller) -> ColumnElement[bool]:
    """Templates shared with the caller's account by another account."""
    return _shared_with(caller)
