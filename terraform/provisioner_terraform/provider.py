"""The provider: its configuration block and the list of resources and data sources it serves."""

from __future__ import annotations

import os
import threading
from typing import Any

from tf.iface import DataSource, Provider, Resource
from tf.schema import Attribute, Schema
from tf.types import Number, String
from tf.utils import Diagnostics

from provisioner_terraform import ADDRESS
from provisioner_terraform.api import Api
from provisioner_terraform.config import DEFAULT_TIMEOUT, resolve
from provisioner_terraform.data_sources.instance import InstanceDataSource
from provisioner_terraform.data_sources.network import NetworkDataSource
from provisioner_terraform.data_sources.service_offering import ServiceOfferingDataSource
from provisioner_terraform.data_sources.template import TemplateDataSource
from provisioner_terraform.data_sources.zone import ZoneDataSource
from provisioner_terraform.resources.instance import InstanceResource
from provisioner_terraform.resources.network import NetworkResource
from provisioner_terraform.resources.ssh_keypair import SSHKeyPairResource
from provisioner_terraform.resources.template import TemplateResource
from provisioner_terraform.resources.volume import VolumeResource

RESOURCES: list[type[Resource]] = [
    InstanceResource,
    VolumeResource,
    TemplateResource,
    SSHKeyPairResource,
    NetworkResource,
]
DATA_SOURCES: list[type[DataSource]] = [
    ZoneDataSource,
    TemplateDataSource,
    ServiceOfferingDataSource,
    NetworkDataSource,
    InstanceDataSource,
]

SCHEMA = Schema(
    attributes=[
        Attribute(
            "api_url",
            String(),
            optional=True,
            description="The API endpoint, `http://host:8080/client/api` (env `PROVISIONER_API_URL`, "
            "`CLOUDSTACK_API_URL`).",
        ),
        Attribute(
            "api_key",
            String(),
            optional=True,
            description="The API key (env `PROVISIONER_API_KEY`, `CLOUDSTACK_API_KEY`).",
        ),
        Attribute(
            "secret_key",
            String(),
            optional=True,
            sensitive=True,
            description="The secret key (env `PROVISIONER_SECRET_KEY`, `CLOUDSTACK_SECRET_KEY`).",
        ),
        Attribute(
            "timeout",
            Number(),
            optional=True,
            description=f"Seconds an async job may take (env `PROVISIONER_TIMEOUT`, `CLOUDSTACK_TIMEOUT`; "
            f"default {DEFAULT_TIMEOUT:g}).",
        ),
    ],
    description="Manage VMs, volumes, templates, SSH key pairs and networks on a provisioner cloud.",
)


class ProvisionerProvider(Provider):
    """The ``provisioner`` provider; :attr:`stop` is set when Terraform asks it to stop (Ctrl-C)."""

    def __init__(self) -> None:
        self.api: Api | None = None
        self.stop = threading.Event()

    def get_model_prefix(self) -> str:
        return "provisioner_"

    def full_name(self) -> str:
        return ADDRESS

    def get_provider_schema(self, diags: Diagnostics) -> Schema:
        return SCHEMA

    def validate_config(self, diags: Diagnostics, config: dict[str, Any]) -> None:
        # Only what can be checked without the environment: a missing key may still come from it.
        timeout = config.get("timeout")
        if isinstance(timeout, int | float) and timeout <= 0:
            diags.add_error("Invalid timeout", f"{timeout} is not a positive number of seconds.", path=["timeout"])

    def configure_provider(self, diags: Diagnostics, config: dict[str, Any]) -> None:
        # Each Terraform run configures the provider again: a reattached provider forgets an earlier stop.
        self.stop.clear()
        settings, problems = resolve(config, os.environ)
        for problem in problems:
            diags.add_error(problem.summary, problem.detail, path=[problem.attribute])
        if settings is not None:
            if self.api is not None:
                self.api.close()
            self.api = Api(settings, self.stop)

    def get_data_sources(self) -> list[type[DataSource]]:
        return DATA_SOURCES

    def get_resources(self) -> list[type[Resource]]:
        return RESOURCES
