"""PyInstaller runtime hook for the plugins: children get the host's LD_LIBRARY_PATH back.

PyInstaller's bootloader restarts a onedir program with ``LD_LIBRARY_PATH`` pointing at
the bundle's ``_internal/`` (keeping the caller's value in ``LD_LIBRARY_PATH_ORIG``).
Our bundles keep their own glibc there (tools/bundle/launcher.c), so a host program the
plugin runs (the coordinator runs ``nsenter`` and ``iptables-restore``) would load our
libc with the host's older loader and fail to start. The loader read the variable when
this process started, so changing it now only affects child processes. No I/O.
"""

import os


def restore(environ: "os._Environ[str]") -> None:
    original = environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is None:
        environ.pop("LD_LIBRARY_PATH", None)
    else:
        environ["LD_LIBRARY_PATH"] = original


restore(os.environ)
