# A VM with an SSH key pair and an attached data volume, on the lab cloud (examples/lab.yaml).
#
#   eval "$(provisioner terraform install)"
#   export PROVISIONER_API_URL=http://127.0.0.1:8080/client/api PROVISIONER_API_KEY=... PROVISIONER_SECRET_KEY=...
#   terraform init && terraform apply
#
# Ported from cloudstack/cloudstack: rename the provider and the `cloudstack_` prefixes (cloudstack_disk is
# provisioner_volume); the attribute names are the same.

terraform {
  required_providers {
    provisioner = { source = "provisioner/provisioner", version = "0.1.0" }
  }
}

provider "provisioner" {
  timeout = 600 # seconds an async job may take
}

variable "zone" {
  type    = string
  default = "lab-zone"
}

variable "template" {
  type    = string
  default = "cirros"
}

data "provisioner_zone" "lab" {
  name = var.zone
}

data "provisioner_service_offering" "tiny" {
  name = "tiny"
}

resource "provisioner_ssh_keypair" "admin" {
  name = "hcl-example"
}

resource "provisioner_instance" "web" {
  name             = "hcl-web"
  display_name     = "web server"
  zone             = data.provisioner_zone.lab.id
  template         = var.template
  service_offering = data.provisioner_service_offering.tiny.name
  keypair          = provisioner_ssh_keypair.admin.name
  user_data        = "#cloud-config\nhostname: hcl-web\n"
  expunge          = true
  tags = {
    role = "web"
  }

  timeouts {
    create = "10m"
  }
}

resource "provisioner_volume" "data" {
  name               = "hcl-data"
  zone               = data.provisioner_zone.lab.id
  disk_offering      = "10GB"
  attach             = true
  virtual_machine_id = provisioner_instance.web.id
}

output "ip_address" {
  value = provisioner_instance.web.ip_address
}

output "state" {
  value = provisioner_instance.web.state
}
