"""The loader: positions, messages, did-you-mean, every problem at once, and unreadable files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from provisioner.config import load_topology
from provisioner.exceptions import ConfigFileError
from tests.unit.config.helpers import Checker, at, cluster, host, zone


def test_invalid_ip_is_reported_at_its_value(check: Checker, doc: dict[str, Any]) -> None:
    host(doc, 1)["ip"] = "10.1.2.300"
    check.expect(
        doc, "ip: ^10.1.2.300", "zones[0].pods[0].clusters[0].hosts[1].ip", "10.1.2.300 is not an IPv4 address"
    )


def test_missing_key_points_at_the_mapping_that_lacks_it(check: Checker, doc: dict[str, Any]) -> None:
    del cluster(doc)["hypervisor"]
    check.expect(
        doc,
        "name: c1",
        "zones[0].pods[0].clusters[0].hypervisor",
        "required key 'hypervisor' is missing: add hypervisor: <value>",
    )


def test_enum_message_lists_the_choices(check: Checker, doc: dict[str, Any]) -> None:
    zone(doc)["network_type"] = "advnced"
    check.expect(
        doc,
        "network_type: ^advnced",
        "zones[0].network_type",
        "'advnced' is not a valid network_type: write one of 'Basic' or 'Advanced' (did you mean 'Advanced'?)",
    )


def test_misspelt_hypervisor_gets_a_did_you_mean(check: Checker, doc: dict[str, Any]) -> None:
    cluster(doc)["hypervisor"] = "xenservr"
    check.expect(
        doc,
        "hypervisor: ^xenservr",
        "zones[0].pods[0].clusters[0].hypervisor",
        "'xenservr' is not a valid hypervisor: write one of 'kvm', 'vmware', 'xenserver', 'hyperv' or 'simulator' "
        "(did you mean 'xenserver'?)",
    )


def test_number_where_text_is_expected(check: Checker, doc: dict[str, Any]) -> None:
    doc["templates"][0]["os_type"] = 12
    check.expect(doc, "os_type: ^12", "templates[0].os_type", "12 is not text: quote it ('12')")


def test_pattern_message_says_what_to_write(check: Checker, doc: dict[str, Any]) -> None:
    host(doc)["credentials"] = {"env": "1PASSWORD"}
    check.expect(
        doc,
        "env: ^1PASSWORD",
        "zones[0].pods[0].clusters[0].hosts[0].credentials.env",
        "'1PASSWORD' is not a valid env: write an environment variable name: letters, digits and _, not starting "
        "with a digit",
    )


def test_model_validator_message_has_no_pydantic_prefix(check: Checker, doc: dict[str, Any]) -> None:
    host(doc)["credentials"] = {"env": "ROOT_PW", "file": "/etc/pw"}
    check.expect(
        doc,
        "^env: ROOT_PW",
        "zones[0].pods[0].clusters[0].hosts[0].credentials",
        "a credential reference needs exactly one of env, file or vault (got env, file)",
    )


def test_misspelt_key_gets_a_did_you_mean_at_the_key(check: Checker, doc: dict[str, Any]) -> None:
    host(doc)["hypervsor"] = "kvm"
    check.expect(
        doc,
        "^hypervsor: kvm",
        "zones[0].pods[0].clusters[0].hosts[0].hypervsor",
        "unknown key 'hypervsor' of a host (did you mean 'hypervisor'?)",
    )


def test_unknown_key_without_a_close_match_lists_the_known_keys(check: Checker, doc: dict[str, Any]) -> None:
    doc["regions"][0]["colour"] = "blue"
    check.expect(
        doc,
        "^colour: blue",
        "regions[0].colour",
        "unknown key 'colour' of a region: known keys are name, id, endpoint, management_servers",
    )


@pytest.mark.parametrize("key", ["password", "secret", "pasword", "api_secret"])
def test_inline_secret_gets_the_reference_hint(check: Checker, doc: dict[str, Any], key: str) -> None:
    host(doc)[key] = "hunter2"
    check.expect(
        doc,
        f"^{key}: hunter2",
        f"zones[0].pods[0].clusters[0].hosts[0].{key}",
        f"unknown key {key!r} of a host (secrets are references, never inline: write credentials: {{env: VAR}} "
        "(or {file: PATH}, {vault: NAME}))",
    )


def test_misspelt_name_in_a_reference_gets_a_did_you_mean(check: Checker, doc: dict[str, Any]) -> None:
    doc["regions"][0]["name"] = "region-east"
    zone(doc)["region"] = "region-eats"
    check.expect(
        doc,
        "region: ^region-eats",
        "zones[0].region",
        "region 'region-eats' is not defined: use the name of one of the regions (did you mean 'region-east'?)",
    )


def test_every_problem_at_once_in_file_order(check: Checker, doc: dict[str, Any]) -> None:
    host(doc, 1).update(name="h1", ip="198.18.1.999", hypervsor="kvm")  # rule, pydantic, unknown key
    doc["templates"][0]["format"] = "ova"  # rule
    zone(doc)["dns"] = []  # pydantic
    lines = check.lines(doc)
    text, file = check.text, check.file
    assert lines == [
        f"{file}:{at(text, 'dns: ^[]')}: zones[0].dns: dns has 0 item(s): list at least 1",
        f"{file}:{at(text, 'name: ^h1', 2)}: zones[0].pods[0].clusters[0].hosts[1].name: host name 'h1' is already "
        "used by zones[0].pods[0].clusters[0].hosts[0]: host and server names must be unique in the whole cloud "
        "(they are Ansible inventory hostnames); rename one of them",
        f"{file}:{at(text, 'ip: ^198.18.1.999')}: zones[0].pods[0].clusters[0].hosts[1].ip: 198.18.1.999 is not "
        "an IPv4 address",
        f"{file}:{at(text, '^hypervsor')}: zones[0].pods[0].clusters[0].hosts[1].hypervsor: unknown key "
        "'hypervsor' of a host (did you mean 'hypervisor'?)",
        f"{file}:{at(text, 'format: ^ova')}: templates[0].format: format ova cannot be used on kvm: kvm templates "
        "are QCOW2 or RAW; convert the image or change hypervisor",
    ]


def test_key_written_twice_is_reported_with_the_rest(check: Checker) -> None:
    text = "name: lab\nname: lab2\nregions: []\n"
    assert check.lines(text) == [
        f"{check.file}:2:1: name: key 'name' is written twice in this mapping (first on line 1); YAML keeps only "
        "the last: remove one",
        f"{check.file}:3:10: regions: regions has 0 item(s): list at least 1",
    ]


def test_positions_follow_merge_keys(check: Checker) -> None:
    text = (
        "name: lab\n"
        "x-ms: &ms {ip: 198.18.0.999}\n"
        "regions:\n"
        "  - name: r1\n"
        "    management_servers:\n"
        "      - <<: *ms\n"
        "        name: ms1\n"
    )
    assert check.lines(text) == [
        f"{check.file}:2:1: x-ms: unknown key 'x-ms' of a cloud: known keys are version, name, ansible, regions, "
        "zones, storage_servers, service_offerings, disk_offerings, network_offerings, networks, templates, isos",
        f"{check.file}:2:16: regions[0].management_servers[0].ip: 198.18.0.999 is not an IPv4 address",
    ]


def test_empty_file(check: Checker) -> None:
    assert check.lines("# nothing yet\n") == [
        f"{check.file}: <root>: the topology is empty: it must be a mapping with name, regions and zones"
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"absent\.yaml: cannot read the topology: No such file or directory"):
        load_topology(tmp_path / "absent.yaml")


def test_not_yaml_names_the_line(tmp_path: Path) -> None:
    file = tmp_path / "cloud.yaml"
    file.write_text("name: lab\nregions: [r1, r2\nzones: []\n", encoding="utf-8")
    with pytest.raises(ConfigFileError) as caught:
        load_topology(file)
    assert str(caught.value).startswith(f"{file}:3:")
    assert "not valid YAML" in str(caught.value)


def test_not_text(tmp_path: Path) -> None:
    file = tmp_path / "cloud.yaml"
    file.write_bytes(b"name: \xff\xfe\x00lab\n")
    with pytest.raises(ConfigFileError, match="it is not UTF-8 text"):
        load_topology(file)


def test_inline_secret_value_is_not_echoed(check: Checker, doc: dict[str, Any]) -> None:
    host(doc)["credentials"] = "hunter2"
    check.expect(
        doc,
        "credentials: ^hunter2",
        "zones[0].pods[0].clusters[0].hosts[0].credentials",
        "credentials is a reference to a secret, not the secret (secrets are references, never inline: write "
        "credentials: {env: VAR} (or {file: PATH}, {vault: NAME}))",
    )


def test_yaml_1_1_booleans_still_read_as_booleans(check: Checker, doc: dict[str, Any]) -> None:
    """The fast parser reads YAML 1.2 (``yes`` is text); the model still takes yes/no/on/off for booleans."""
    text = check.write(doc).read_text(encoding="utf-8")
    cloud = load_topology(check.write(text.replace("zones: all", "zones: all\n  public: no\n  bootable: yes")))
    assert (cloud.isos[0].public, cloud.isos[0].bootable) == (False, True)
