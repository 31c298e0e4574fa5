"""The provider's view of the API: :class:`~provisioner.client.CloudStackClient` plus lookups and job waits.

Resources call :class:`Api`; it signs, sends, waits for async jobs (stopping at once when Terraform asks
the provider to stop), turns names into ids the way cloudstack-go does (a lower-case UUID is an id,
anything else is looked up by name), and recognises CloudStack's "entity does not exist" answer so a
resource deleted outside Terraform reads as gone.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provisioner.exceptions import ApiError, ProvisionerError
from provisioner_terraform.config import Settings

if TYPE_CHECKING:
    from provisioner.client import CloudStackClient, Json, Value

#: What cloudstack-go accepts as an id (anything else is a name to look up).
UUID_RE = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|-1)$")
#: Seconds per HTTP request.
REQUEST_TIMEOUT = 60.0


class ProviderFailure(ProvisionerError):
    """An operation cannot go on; ``attribute`` names the configuration attribute at fault (if any)."""

    def __init__(self, summary: str, detail: str = "", attribute: str | None = None) -> None:
        super().__init__(f"{summary}: {detail}" if detail else summary)
        self.summary = summary
        self.detail = detail
        self.attribute = attribute


def is_gone(error: ApiError) -> bool:
    """Whether the server answered that the entity does not exist (431 with CloudStack's text)."""
    text = str(error).lower()
    return error.errorcode == 431 and ("does not exist" in text or "not found" in text)


@dataclass(frozen=True)
class Lookup:
    """How to turn a name into an id: the list command, its list key, and the field names match on."""

    kind: str
    command: str
    key: str
    name_field: str = "name"
    filter_param: str = "name"


ZONE = Lookup("zone", "listZones", "zone")
SERVICE_OFFERING = Lookup("service offering", "listServiceOfferings", "serviceoffering")
DISK_OFFERING = Lookup("disk offering", "listDiskOfferings", "diskoffering")
NETWORK_OFFERING = Lookup("network offering", "listNetworkOfferings", "networkoffering")
TEMPLATE = Lookup("template", "listTemplates", "template")
NETWORK = Lookup("network", "listNetworks", "network")
OS_TYPE = Lookup("OS type", "listOsTypes", "ostype", name_field="description", filter_param="description")


class Api:
    """Calls for one configured provider; shared by every resource operation (thread-safe).

    Args:
        settings: endpoint, keys and the default job timeout.
        stop: set when Terraform asks the provider to stop; job waits end at once.
    """

    def __init__(self, settings: Settings, stop: threading.Event) -> None:
        # Imported here: httpx is a quarter of the provider's start-up, and only a configured provider needs it.
        from provisioner.client import CloudStackClient, Credentials

        credentials = Credentials(settings.api_url, settings.api_key, settings.secret_key)
        self.client: CloudStackClient = CloudStackClient(
            credentials,
            timeout=REQUEST_TIMEOUT,
            job_timeout=settings.timeout,
            poll_interval=0.1,
            max_poll_interval=2.0,
        )
        self.timeout = settings.timeout
        self.stop = stop

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def request(self, command: str, **params: Value) -> Json:
        """One call; async commands answer ``{"jobid": ..., "id": ...}`` here."""
        return self.client.request(command, **params)

    def wait(self, jobid: str, command: str, timeout: float | None = None) -> Json:
        """Wait for a job (bounded by ``timeout``, stopped by the provider's stop event); return its result."""
        return self.client.wait_job(
            jobid, command, timeout=self.timeout if timeout is None else timeout, stop=self.stop
        )

    def run(self, command: str, timeout: float | None = None, **params: Value) -> Json:
        """Send a command and, when it starts a job, wait for it."""
        answer = self.request(command, **params)
        jobid = answer.get("jobid")
        if jobid is None or set(answer) - {"jobid", "id"}:
            return answer
        return self.wait(str(jobid), command, timeout)

    def create(self, command: str, key: str, timeout: float, on_id: Callable[[str], None], **params: Value) -> str:
        """Run an async-create command; ``on_id`` gets the new id as soon as the server answers it (before the job
        ends), so a failed or interrupted wait still knows what was created. Returns the id."""
        answer = self.request(command, **params)
        entity_id = answer.get("id")
        if entity_id:
            on_id(str(entity_id))
        if answer.get("jobid"):
            result = self.wait(str(answer["jobid"]), command, timeout)
            entity_id = (result.get(key) or {}).get("id") or entity_id
        if not entity_id:
            raise ProviderFailure(f"{command} answered no id", f"The answer was {answer!r}.")
        on_id(str(entity_id))
        return str(entity_id)

    def remove(self, command: str, timeout: float | None = None, **params: Value) -> None:
        """Run a delete command; an entity that is already gone counts as deleted."""
        try:
            self.run(command, timeout, **params)
        except ApiError as exc:
            if not is_gone(exc):
                raise

    def items(self, command: str, key: str, **filters: Value) -> list[Json]:
        """The rows of one ``list*`` answer (one request: filters are expected to narrow it to a page)."""
        body = self.request(command, **filters)
        rows = body.get(key, [])
        return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []

    def get(self, command: str, key: str, entity_id: str, **filters: Value) -> Json | None:
        """The entity with this id, or ``None`` when the server says it does not exist."""
        try:
            rows = self.items(command, key, id=entity_id, **filters)
        except ApiError as exc:
            if is_gone(exc):
                return None
            raise
        return next((row for row in rows if row.get("id") == entity_id), None)

    def resolve(self, lookup: Lookup, value: str, attribute: str, **filters: Value) -> str:
        """The id of ``value``: itself when it is a UUID, else the one entity of that name.

        Raises:
            ProviderFailure: nothing, or more than one entity, has that name (naming ``attribute``).
        """
        if UUID_RE.match(value):
            return value
        rows = self.items(lookup.command, lookup.key, **{lookup.filter_param: value}, **filters)
        exact = [row for row in rows if row.get(lookup.name_field) == value]
        ids = sorted({str(row["id"]) for row in exact})
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise ProviderFailure(
                f"No {lookup.kind} named {value!r}",
                f"{lookup.command} finds no {lookup.kind} with {lookup.name_field} {value!r}; "
                f"give an existing name or id.",
                attribute,
            )
        raise ProviderFailure(
            f"Ambiguous {lookup.kind} {value!r}",
            f"{len(ids)} {lookup.kind}s are named {value!r} ({', '.join(ids)}); give the id instead.",
            attribute,
        )


def same_ref(given: Any, entity_id: Any, entity_name: Any) -> Any:
    """What to keep in the state for a name-or-id reference: the user's form while it names the same entity.

    A configuration may say ``zone = "lab-zone"`` or give the zone's id; the state keeps that form so the
    next plan shows no diff, and shows the server's name (or id, if the user gave an id) once they differ.
    """
    if given in (entity_id, entity_name) and given is not None:
        return given
    if isinstance(given, str) and UUID_RE.match(given):
        return entity_id
    return entity_name if entity_name is not None else entity_id
