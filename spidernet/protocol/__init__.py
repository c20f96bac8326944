"""The CNI calling convention shared by every plugin executable (docs/design.md)."""
