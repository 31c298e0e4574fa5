"""Guest networks, their NICs and IP addresses, and what a deployment needs from them."""
