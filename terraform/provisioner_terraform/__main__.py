"""``python -m provisioner_terraform``: what the mirror's wrapper script runs."""

from provisioner_terraform.main import main

main()
