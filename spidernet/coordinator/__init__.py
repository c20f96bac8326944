"""coordinator: routes, policy rules, veth to the host, neighbours and probes (SPEC §4)."""
