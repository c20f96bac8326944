"""coordinator: routes, policy rules, veth to the host, neighbours and probes
(docs/coordinator.md)."""
