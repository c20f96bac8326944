"""PyInstaller runtime hook for the plugins: children get the host's LD_LIBRARY_PATH back.

Our launcher (tools/bundle/launcher.c) starts PyInstaller's bootloader under the
bundled loader with ``--library-path``, and tells it not to restart itself, so the
caller's ``LD_LIBRARY_PATH`` reaches this process untouched and there is nothing to do.
Should the bootloader restart after all, it sets ``LD_LIBRARY_PATH`` to the bundle's
``_internal/`` (keeping the caller's value in ``LD_LIBRARY_PATH_ORIG``), and a host
program the plugin runs (the coordinator runs ``iptables`` and ``iptables-restore``)
would load our glibc with the host's older loader and fail to start. So the setting
is undone when it starts with ``_internal/``; the loader read the variable when this
process started, so changing it now only affects child processes. No I/O.
"""

import os
import sys


def restore(environ: "os._Environ[str]", home: str) -> None:
    if not home or environ.get("LD_LIBRARY_PATH", "").split(":")[0] != home:
        return  # not the bootloader's setting: started without a restart
    original = environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is None:
        environ.pop("LD_LIBRARY_PATH", None)
    else:
        environ["LD_LIBRARY_PATH"] = original


restore(os.environ, getattr(sys, "_MEIPASS", ""))
