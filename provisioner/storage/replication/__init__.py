"""Image copy and replication: store to store, HTTP(S) downloads, and format checks."""
