"""Knowledge-base endpoints of the gateway (storage only; search is answered by a worker)."""
