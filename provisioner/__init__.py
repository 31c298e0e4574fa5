"""provisioner: a CloudStack-style cloud management system native to Ansible and Terraform."""

__version__ = "0.1.0"
