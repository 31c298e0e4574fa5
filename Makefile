# provisioner — the two commands a newcomer runs: `make demo` and `make test`.
# Every target installs what it needs and is idempotent: stamps under .stamps/ make a second run fast.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Debian packages the test tiers need (apt is skipped when they are all present).
APT_PACKAGES := python3-venv python3-dev gcc postgresql openssh-client
# compute: libvirt-python builds against libvirt-dev; TCG guests need qemu + libvirtd; genisoimage makes NoCloud seeds;
# dosfstools, mtools and syslinux make the tiny bootable template disk in user space.
APT_PACKAGES += libvirt-dev pkg-config qemu-system-x86 qemu-utils libvirt-daemon libvirt-daemon-driver-qemu \
	libvirt-clients libxml2-utils busybox-static cpio genisoimage dosfstools mtools syslinux syslinux-common
# storage: userspace NFS (ganesha + libnfs) and iSCSI (tgt + libiscsi); qemu-block-extra gives qemu-img nfs:// and iscsi://.
APT_PACKAGES += nfs-ganesha nfs-ganesha-vfs libnfs-utils rpcbind tgt libiscsi-bin qemu-utils qemu-block-extra curl
# roles: molecule scenarios run the roles in podman containers imported from a debootstrap root filesystem.
APT_PACKAGES += podman runc catatonit uidmap fuse-overlayfs slirp4netns
# bootstrap: fake hosts are network namespaces running sshd in debootstrap root filesystems (scripts/build-rootfs.sh).
APT_PACKAGES += debootstrap openssh-server iproute2 iputils-ping util-linux
PYTEST_ARGS ?=
# make test spreads the suite over pytest-xdist workers: most tests wait on servers, daemons and subprocesses,
# so more workers than cores pay. tests/conftest.py groups the tests (a module, a shared daemon) onto one
# worker each. PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 4
PYTEST_XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),-p no:xdist,-n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder)

.PHONY: all demo test test-fast lint typecheck bench clean distclean help

help:
	@echo "make demo       install what is needed and show a working cloud on embedded defaults"
	@echo "make test       install what is needed and run ruff, mypy and the whole test suite"
	@echo "make test-fast  unit tests only (no daemons)"
	@echo "make bench      run the benchmarks in bench/"

$(STAMPS)/apt: Makefile
	@mkdir -p $(STAMPS)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "apt: installing $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@touch $@

$(STAMPS)/venv: pyproject.toml terraform/pyproject.toml $(STAMPS)/apt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q -e terraform/
	@touch $@

lint: $(STAMPS)/venv
	$(BIN)/ruff check provisioner tests bench inventory terraform
	$(BIN)/ruff format --check provisioner tests bench inventory terraform

typecheck: $(STAMPS)/venv
	$(BIN)/mypy
	$(BIN)/mypy terraform/provisioner_terraform

test: $(STAMPS)/venv lint typecheck
	CI_STRICT=1 $(BIN)/python -m pytest $(PYTEST_XDIST) --durations=30 $(PYTEST_ARGS)

test-fast: $(STAMPS)/venv
	$(BIN)/python -m pytest -m "not integration and not e2e" $(PYTEST_ARGS)

demo: $(STAMPS)/venv
	@$(BIN)/python -m provisioner.demo

bench: $(STAMPS)/venv
	$(BIN)/python bench/inventory.py
	$(BIN)/python bench/replication.py
	$(BIN)/python bench/terraform.py

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist *.egg-info

distclean: clean
	rm -rf $(VENV) $(STAMPS)

# roles: the management_server molecule scenario installs provisioner from these wheels (its container reaches no index).
WHEELHOUSE ?= $(HOME)/.cache/provisioner/wheelhouse
$(STAMPS)/wheelhouse: pyproject.toml $(STAMPS)/venv
	$(BIN)/python -m pip wheel -q --wheel-dir $(WHEELHOUSE) '.[postgres]'
	@touch $@
test: $(STAMPS)/wheelhouse
