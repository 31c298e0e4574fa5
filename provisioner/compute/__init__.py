"""Compute: the hypervisor driver contract, the driver registry and the drivers.

How the management server uses it::

    from provisioner.compute.registry import get_driver

    driver_cls = get_driver(host.driver)             # "libvirt", "simulator" or an entry point
    with driver_cls(host.url, host.driver_settings) as driver:   # settings validated here
        facts = driver.host_facts()                   # capacity for the allocator
        driver.define_vm(spec)                        # spec: provisioner.compute.types.VMSpec
        driver.start_vm(spec.name)
        changes = driver.poll_states(known_states)    # periodic reconciliation

Simulated hosts (``http://sim/<cluster>/<host>``) live in
``provisioner.compute.drivers.simulator.CLOUD``; fault injection goes through
``CLOUD.configure(...)`` or ``driver.ex_host``. Drivers raise ``provisioner.exceptions.DriverError``
subclasses: ``VMNotFoundError`` (a ``LookupError``), ``HostUnreachableError`` (a ``ConnectionError``:
mark the host down), ``VMStateError``, ``VMExistsError``, ``DriverSettingsError``.
"""
