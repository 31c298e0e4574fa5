"""``data "provisioner_template"``: a template by id or name, optionally in one zone."""

from __future__ import annotations

from tf.types import Bool, Number

from provisioner_terraform.api import TEMPLATE, ZONE
from provisioner_terraform.data_sources import TAGS, Field, Filter, LookupDataSource


class TemplateDataSource(LookupDataSource):
    """A template (``listTemplates``)."""

    type_suffix = "template"
    lookup = TEMPLATE
    description = "A template, found by id or name among those the filter shows."
    filters = (
        Filter(
            "template_filter",
            "templatefilter",
            "featured, self, selfexecutable, sharedexecutable, executable (default), community or all.",
            default="executable",
        ),
        Filter("zone", "zoneid", "Only templates in this zone (name or id).", resolve=ZONE),
    )
    fields = (
        Field("display_text", "displaytext", description="The template's display text."),
        Field("format", "format", description="QCOW2, RAW, VHD, OVA..."),
        Field("hypervisor", "hypervisor", description="The hypervisor the template is for."),
        Field("os_type", "ostypename", description="The guest OS type."),
        Field("is_ready", "isready", Bool(), "Whether the template is ready in the row's zone."),
        Field("is_public", "ispublic", Bool(), "Whether every account may use it."),
        Field("is_featured", "isfeatured", Bool(), "Whether it is featured."),
        Field("size", "size", Number(), "Virtual size in bytes."),
        Field("zone_id", "zoneid", description="The zone of the row found."),
        TAGS,
    )
