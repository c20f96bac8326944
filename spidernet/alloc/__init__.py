"""Pure IPAM core: pools as data, which pools a pod may use, which address it gets. No I/O."""
