"""Tests of provisioner.ansible against the real ansible-inventory and ansible-playbook."""
