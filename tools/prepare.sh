# Sourced by tools/test.sh and tools/demo.sh (with $here set to the repository):
# checks for root, runs the idempotent bootstrap, builds (or reuses) the frozen
# plugins, and leaves $venv and an exported SPIDERNET_BUNDLE_BIN behind.
[ "$(id -u)" = 0 ] || { echo "$(basename "$0"): run as root (network namespaces, UML)" >&2; exit 1; }
venv=$(bash "$here/tools/bootstrap.sh" | sed -n 's/^VENV=//p')
export SPIDERNET_BUNDLE_BIN
SPIDERNET_BUNDLE_BIN=$(PYTHON="$venv/bin/python" bash "$here/tools/build_bundles.sh" | sed -n 's/^BUNDLE_BIN=//p')
cd "$here"
