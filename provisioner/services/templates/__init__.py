"""Templates and ISOs: registration, listing, permissions, download and replication, use by deploys."""
