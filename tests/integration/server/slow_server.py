"""The real ``provisioner`` CLI plus one slow async command, for the shutdown and kill -9 tests (test code only).

Usage: ``python -m tests.integration.server.slow_server serve ...``. ``testSlowJob id=<account> seconds=N``
marks the account with the tag ``phase=transitional``, sleeps (at most two minutes) and then sets
``phase=done``. Its reconciler puts ``phase=stable`` back when the job is failed because its server died or
stopped, which is how a real area returns a resource to a stable state.
"""

from __future__ import annotations

import sys
import time

from sqlalchemy import Connection, delete, insert, select, update

from provisioner.api.fields import BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.cli.main import main
from provisioner.db.schema import account, resource_tag
from provisioner.server.backend import backend_of
from provisioner.services.jobs import FailedJob, register_reconciler
from provisioner.services.principal import RoleType

INSTANCE_TYPE = "TestSlowAccount"


def set_phase(conn: Connection, account_uuid: str, value: str) -> None:
    """Set the account's ``phase`` tag."""
    conn.execute(
        delete(resource_tag).where(resource_tag.c.resource_uuid == account_uuid, resource_tag.c.key == "phase")
    )
    owner = select(account.c.id).where(account.c.uuid == account_uuid).scalar_subquery()
    domain = select(account.c.domain_id).where(account.c.uuid == account_uuid).scalar_subquery()
    conn.execute(
        insert(resource_tag).values(
            key="phase",
            value=value,
            resource_type="Account",
            resource_uuid=account_uuid,
            account_id=owner,
            domain_id=domain,
        )
    )


class SlowParams(BaseParams):
    """Parameters of ``testSlowJob``."""

    id: str = param("the account to mark", required=True, entity="Account")
    seconds: int = param("how long the job runs (at most 120)", required=True)


@api_command(
    "testSlowJob",
    params=SlowParams,
    is_async=True,
    authorized={RoleType.ADMIN},
    entity_type=INSTANCE_TYPE,
    description="Test only: a job that takes a while",
)
def slow_job(ctx: CommandContext, params: SlowParams) -> None:
    """Mark, wait, finish."""
    identity = backend_of(ctx).identity
    identity.transaction(lambda conn: set_phase(conn, params.id, "transitional"))
    time.sleep(min(params.seconds, 120))
    identity.transaction(lambda conn: set_phase(conn, params.id, "done"))


def reconcile(conn: Connection, job: FailedJob) -> None:
    """A failed slow job leaves its account stable."""
    assert job.instance_id is not None
    conn.execute(
        update(resource_tag)
        .where(resource_tag.c.resource_uuid == job.instance_id, resource_tag.c.key == "phase")
        .values(value="stable")
    )


register_reconciler(INSTANCE_TYPE, reconcile)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
