"""SSH key pairs of a VM: names checked against ``ssh_keypairs`` at deploy/reset, public keys read at start."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from provisioner.db.schema import ssh_keypair
from provisioner.exceptions import ParamError


def keypair_names(conn: Connection, account_id: int, keypair: str | None, keypairs: Sequence[str] | None) -> str | None:
    """The key pair names (``keypair`` and ``keypairs``) as the VM stores them, comma-joined; None for none.

    Raises:
        ParamError: a name is not a key pair of the account (431).
    """
    names = list(dict.fromkeys(n.strip() for n in [keypair or "", *(keypairs or ())] if n and n.strip()))
    if not names:
        return None
    found = set(
        conn.execute(
            select(ssh_keypair.c.keypair_name).where(
                ssh_keypair.c.account_id == account_id, ssh_keypair.c.keypair_name.in_(names)
            )
        ).scalars()
    )
    missing = [n for n in names if n not in found]
    if missing:
        raise ParamError(f"Unable to find SSH key pair {', '.join(missing)} in the account; register it first")
    return ",".join(names)


def public_keys(conn: Connection, account_id: int, names: str | None) -> tuple[str, ...]:
    """The public keys of the VM's key pairs, in the order the names were given (a deleted pair is skipped)."""
    wanted = [n for n in (names or "").split(",") if n]
    if not wanted:
        return ()
    query = select(ssh_keypair.c.keypair_name, ssh_keypair.c.public_key).where(
        ssh_keypair.c.account_id == account_id, ssh_keypair.c.keypair_name.in_(wanted)
    )
    rows: dict[str, str] = dict(list(conn.execute(query).tuples()))
    return tuple(rows[n] for n in wanted if n in rows)
