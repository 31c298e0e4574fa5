"""Tests of provisioner.ansible that do not run Ansible."""
