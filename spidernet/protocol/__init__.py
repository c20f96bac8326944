"""The CNI calling convention shared by every plugin executable (SPEC §1)."""
