"""ifacer: host VLAN sub-interfaces and bonds, created before the main plugin runs (SPEC §3)."""
