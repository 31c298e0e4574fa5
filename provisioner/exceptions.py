"""The error tree: one root, a shallow hierarchy, and CloudStack codes on the API classes.

Code raises what it means; only ``provisioner.api`` maps errors to HTTP answers and only
``provisioner.cli`` maps them to exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ProvisionerError(Exception):
    """Root of every error this package raises on purpose."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in a topology file, with where it is and how to fix it.

    Attributes:
        path: dotted path into the document, e.g. ``zones[1].pods[0].name``.
        message: what is wrong, naming the offending value.
        file: the file the value came from, when known.
        line: 1-based line of the value, when known.
        column: 1-based column of the value, when known.
        hint: what to do about it (for example a did-you-mean), optional.
    """

    path: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None

    def format(self) -> str:
        """Render as ``file:line:column: path: message (hint)``."""
        where = ""
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}:{self.column or 1}"
            where += ": "
        text = f"{where}{self.path or '<root>'}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class ModelError(ProvisionerError, ValueError):
    """A topology document is invalid; carries every issue found, not just the first."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        count = len(self.issues)
        head = "\n".join(issue.format() for issue in self.issues[:20])
        more = f"\n... and {count - 20} more" if count > 20 else ""
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the topology:\n{head}{more}")


class ConfigFileError(ProvisionerError, OSError):
    """A topology or settings file cannot be read or parsed."""


class CredentialError(ProvisionerError):
    """A credential reference cannot be resolved (missing variable, unreadable file)."""


class DriverError(ProvisionerError):
    """A compute or storage driver failed to do what it was asked."""


class DriverNotFoundError(DriverError, LookupError):
    """No driver is registered under the requested name."""


class AnsibleRunError(ProvisionerError):
    """An Ansible run could not start or ended with failed hosts."""


class ApiError(ProvisionerError):
    """An error with a CloudStack error code, shown to API clients as-is.

    Subclasses set ``errorcode`` (also the HTTP status) and ``cserrorcode`` (the
    CloudStack exception class code) as class attributes.
    """

    errorcode: int = 530
    cserrorcode: int = 4250

    def __init__(self, errortext: str) -> None:
        super().__init__(errortext)
        self.errortext = errortext


class UnauthorizedError(ApiError):
    """Bad signature or session, expired request, or a command the caller may not run."""

    errorcode = 401
    cserrorcode = 9999


class MethodNotAllowedError(ApiError):
    """The command needs another HTTP method (``login`` needs POST)."""

    errorcode = 405
    cserrorcode = 9999


class ApiLimitExceededError(ApiError):
    """The caller sent more requests than ``api.throttling.max`` within ``api.throttling.interval``."""

    errorcode = 429
    cserrorcode = 9999


class MalformedParameterError(ApiError):
    """A ``name[i].key=value`` map parameter has a malformed name."""

    errorcode = 430
    cserrorcode = 9999


class ParamError(ApiError, ValueError):
    """A missing or invalid parameter, or an id that does not exist."""

    errorcode = 431
    cserrorcode = 4350


class UnsupportedActionError(ApiError):
    """The command is not known to this server."""

    errorcode = 432
    cserrorcode = 9999


class InternalError(ApiError):
    """Anything else that went wrong while running a command."""

    errorcode = 530
    cserrorcode = 4250


class PermissionDeniedError(ApiError, PermissionError):
    """The caller may not act on that resource, or a login failed."""

    errorcode = 531
    cserrorcode = 4365


class ResourceLimitError(ApiError):
    """An account resource limit would be exceeded."""

    errorcode = 532
    cserrorcode = 4285


class InsufficientCapacityError(ApiError):
    """Nothing has room for the request (deploy found no suitable host or pool)."""

    errorcode = 533
    cserrorcode = 4325


class ResourceUnavailableError(ApiError):
    """A resource needed for the request is down or unreachable."""

    errorcode = 534
    cserrorcode = 4380


class ResourceAllocationError(ApiError):
    """A resource could not be allocated."""

    errorcode = 535
    cserrorcode = 4370


class ResourceInUseError(ApiError):
    """The resource is still in use and cannot be deleted or changed."""

    errorcode = 536
    cserrorcode = 4375


class DriverNotAvailableError(DriverNotFoundError):
    """The driver name is known but the driver is not implemented yet or its extra is not installed."""


class DriverSettingsError(DriverError, ValueError):
    """A driver setting is missing or invalid; raised when the driver is constructed."""


class DriverValueError(DriverError, ValueError):
    """A value handed to a driver (VM spec, volume, name) is invalid."""


class VMNotFoundError(DriverError, LookupError):
    """The hypervisor has no VM (or snapshot) by that name."""


class VMExistsError(DriverError):
    """A VM with that name is already defined on the hypervisor."""


class VMStateError(DriverError):
    """The VM is in a state that does not allow the requested operation."""


class HostUnreachableError(DriverError, ConnectionError):
    """The hypervisor host does not answer (down, unreachable, or refusing the connection)."""


class VolumeNotFoundError(DriverError, LookupError):
    """The storage pool or image store has no volume (or image) by that name."""


class VolumeExistsError(DriverError):
    """A volume (or image) by that name already exists in the pool or store."""


class StorageMaintenanceError(DriverError):
    """The pool is in maintenance mode and refuses new volumes and copies."""


class ImageFormatError(DriverValueError):
    """An image is not in its declared format, or references a backing or external data file."""


class ChecksumMismatchError(DriverError, ValueError):
    """The bytes copied or downloaded do not match the expected checksum."""


class DownloadError(DriverError):
    """An HTTP(S) download failed: bad status, size limit exceeded or connection lost."""


class UnsafeUrlError(DownloadError, ValueError):
    """A URL or redirect points at loopback, link-local or private addresses, which are refused by default."""
