"""Pieces of the frozen bundles: the static launcher, a PyInstaller runtime hook, the sealer."""
