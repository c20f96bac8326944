"""PNG plots: pods with an address over time, one panel per phase, one line per plugin. Does I/O
(writes files).

Like the seed's narrative of pods Running over time. For ``delete`` the line falls:
pods still holding an address. A phase a plugin skipped has no line. A small figure
at a low DPI, so that the PNGs committed under docs/ stay small. matplotlib is a
dev dependency (pyproject.toml), imported here only: the harness runs without it
when ``--no-plots`` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STYLE = {"spiderpool": "-", "floor": "--"}


def series(done_at: list[float], target: int, falling: bool) -> tuple[list[float], list[int]]:
    """Step points (t, pods) from the moments pods got (or lost) their address; starts at t=0."""
    xs, ys = [0.0], [target if falling else 0]
    for i, t in enumerate(sorted(done_at), 1):
        xs.append(t)
        ys.append(target - i if falling else i)
    return xs, ys


def pyplot() -> Any:
    """matplotlib's pyplot without a display (the backend is set before pyplot is imported)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, title: str, path: Path) -> Path:
    """Title, tight layout, write ``path`` (its directory made), free the figure."""
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    pyplot().close(fig)
    return path


def plot(phases: dict[str, list[dict[str, Any]]], title: str, path: Path) -> Path:
    """``phases``: phase name -> [{"plugin", "done_at", "target", "wall"}]."""
    plt = pyplot()
    names = [p for p in phases if phases[p]]
    fig, axes = plt.subplots(1, len(names), figsize=(3.1 * len(names), 2.8), dpi=80, squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for line in phases[name]:
            xs, ys = series(line["done_at"], line["target"], name == "delete")
            xs.append(max(line["wall"], xs[-1]))
            ys.append(ys[-1])
            ax.step(
                xs, ys, where="post", linestyle=STYLE.get(line["plugin"], ":"), label=line["plugin"]
            )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("s", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("pods with an address", fontsize=8)
    axes[0][-1].legend(fontsize=7, loc="best")
    return save(fig, title, path)
