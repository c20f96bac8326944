"""ifacer: host VLAN sub-interfaces and bonds, created before the main plugin runs
(docs/ifacer.md)."""
