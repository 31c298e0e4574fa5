"""The executor: runs a plan's actions through the API client, deletes first, then the zone-build order."""

from __future__ import annotations

import time
from collections.abc import Callable

from provisioner.client import ClientError, CloudStackClient, Json, Value
from provisioner.exceptions import ApiError, ProvisionerError
from provisioner.services.sync.calls import Step, create_steps, delete_step, update_steps
from provisioner.services.sync.model import ActionType, Kind, Plan, Resource

#: Reports progress: one line per step.
Progress = Callable[[str], None]


class SyncError(ProvisionerError):
    """Applying a plan failed on one object; carries the object and the server's error.

    Attributes:
        what: the step that failed, e.g. ``create host lab-zone/lab-pod/lab-sim/sim-3``.
        errorcode: the server's error code, when the server answered one.
        errortext: the server's (or the client's) message.
    """

    def __init__(self, what: str, errortext: str, errorcode: int | None = None) -> None:
        code = f" (error {errorcode})" if errorcode is not None else ""
        super().__init__(f"{what} failed{code}: {errortext}")
        self.what = what
        self.errortext = errortext
        self.errorcode = errorcode


class Executor:
    """Runs a plan against the server, remembering the ids of what it creates for the steps after.

    Args:
        client: the API client.
        plan: the plan to apply.
        progress: called with a line per step.
        host_timeout: seconds a host may take to come Up or reach maintenance.
    """

    def __init__(
        self,
        client: CloudStackClient,
        plan: Plan,
        *,
        progress: Progress | None = None,
        host_timeout: float = 120.0,
    ) -> None:
        self.client = client
        self.plan = plan
        self.progress = progress or (lambda _line: None)
        self.host_timeout = host_timeout
        self.ids: dict[tuple[Kind, tuple[str, ...]], str] = {}
        for action in plan.actions:
            # Objects the plan keeps or changes are known by their desired key (a host may match by IP).
            if action.type in (ActionType.UPDATE, ActionType.UNCHANGED) and action.observed is not None:
                assert action.desired is not None and action.observed.id is not None
                self.ids[(action.desired.kind, action.desired.key)] = action.observed.id

    def steps(self) -> list[Step]:
        """Every step in the order it runs: deletes (children first), then the rest by phase."""
        deletes = [
            delete_step(action.observed)
            for action in self.plan.actions
            if action.type in (ActionType.DELETE, ActionType.REPLACE) and action.observed is not None
        ]
        forward: list[Step] = []
        for action in self.plan.actions:
            if action.type in (ActionType.CREATE, ActionType.REPLACE) and action.desired is not None:
                forward.extend(create_steps(action.desired))
            elif action.type is ActionType.UPDATE and action.desired is not None:
                forward.extend(update_steps(action.desired, action.changes))
        forward.sort(key=lambda step: step.phase)  # stable: objects keep their plan order within a phase
        return deletes + forward

    def run(self) -> int:
        """Apply every step; returns how many ran.

        Raises:
            SyncError: a step failed; the steps before it stay applied (a re-run plans the rest).
        """
        steps = self.steps()
        for step in steps:
            self.progress(step.what)
            try:
                step.run(self)
            except ApiError as exc:
                raise SyncError(step.what, exc.errortext, exc.errorcode) from exc
            except ClientError as exc:
                raise SyncError(step.what, str(exc)) from exc
        return len(steps)

    # -- the Context the steps use ------------------------------------------------------------

    def call(self, command: str, **params: Value) -> Json:
        """Run a command through the client, waiting for its async job."""
        return self.client.call(command, **params)

    def list_all(self, command: str, **filters: Value) -> list[Json]:
        """Every item of a list command."""
        return self.client.list_all(command, **filters)

    def id_of(self, kind: Kind, key: tuple[str, ...]) -> str:
        """The id of an object the server had or that an earlier step created.

        Raises:
            ClientError: nothing with that key exists (the topology names an object it does not define).
        """
        try:
            return self.ids[(kind, key)]
        except KeyError:
            raise ClientError(f"no {kind.value} {'/'.join(key)} on the server or in the plan") from None

    def remember(self, resource: Resource, new_id: str) -> None:
        """Record the id of an object just created."""
        self.ids[(resource.kind, resource.key)] = new_id

    def wait_host(self, host_id: str, *, resource_state: str | None = None) -> None:
        """Poll ``listHosts id=`` (bounded, with back-off) until the host is Up or in ``resource_state``.

        Raises:
            ClientError: the host did not get there within ``host_timeout`` seconds.
        """
        deadline = time.monotonic() + self.host_timeout
        delay = 0.1
        last = "unknown"
        while time.monotonic() < deadline:
            hosts = self.client.list_all("listHosts", id=host_id)
            if hosts:
                host = hosts[0]
                last = str(host.get("resourcestate") if resource_state else host.get("state"))
                if last == (resource_state or "Up"):
                    return
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        wanted = resource_state or "Up"
        raise ClientError(f"host {host_id} is {last}, not {wanted}, after {self.host_timeout:g} s")


def apply_plan(client: CloudStackClient, plan: Plan, *, progress: Progress | None = None) -> int:
    """Make the server match the plan's desired state; returns how many steps ran.

    Raises:
        SyncError: a step failed (the object and the server's error).
    """
    return Executor(client, plan, progress=progress).run()
