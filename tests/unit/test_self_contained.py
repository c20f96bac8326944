"""The repository speaks of itself alone (docs/design.md, "Code style").

A reader has the repository and nothing else, so code, tests, docs, scripts and CI cite
docs/ and the code: never a planning document kept outside the tree, its sections, the
team's seed files, or a work-item number. Upstream projects' public issues
(``upstream #3683``, ``kubernetes#99804``) are fine: anyone can read them.

| case                                             | expectation                         |
|--------------------------------------------------|-------------------------------------|
| every tracked text file, read line by line       | no outside citation (list below)    |
| every ``docs/<name>.md`` a tracked file mentions | the page exists                     |
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tools.testbed import paths

# Spelt in pieces, so that this file does not match its own patterns.
OUTSIDE = re.compile(
    "|".join(
        (
            r"SPEC" + r" §",  # sections of a spec kept outside the tree
            r"reference" + r" §",  # sections of notes about upstream kept outside
            r"TESTBED" + r"\.md",
            r"STYLE" + r"\.md",
            r"\.\./" + r"shared",
            r"seeds" + r"/0",
            r"\b[Ii]ssues?" + r" [0-9]+",  # our work items; upstream's are "upstream #N"
        )
    )
)
DOC_PAGE = re.compile(r"\bdocs/[\w.-]+\.md\b")


def tracked_text_files() -> list[Path]:
    """Files git tracks (a plain copy of the tree: every file but caches)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"],
            cwd=paths.REPO,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [
            str(p.relative_to(paths.REPO))
            for p in paths.REPO.rglob("*")
            if p.is_file() and not {".git", "__pycache__", ".mypy_cache"} & set(p.parts)
        ]
    files = []
    for name in names:
        path = paths.REPO / name
        if path.is_file() and b"\0" not in path.read_bytes()[:4096]:
            files.append(path)
    return files


def lines_matching(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    found = []
    for path in tracked_text_files():
        text = path.read_text(errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            for match in pattern.finditer(line):
                found.append((f"{path.relative_to(paths.REPO)}:{number}", match.group(0)))
    return found


def test_no_tracked_file_cites_material_outside_the_repository_or_a_work_item() -> None:
    here = Path(__file__).relative_to(paths.REPO).as_posix()
    found = [(where, what) for where, what in lines_matching(OUTSIDE) if not where.startswith(here)]
    assert found == [], "cite the docs/ page that holds the fact instead:\n" + "\n".join(
        f"  {where}: {what!r}" for where, what in found
    )


def test_every_docs_page_a_file_mentions_exists() -> None:
    missing = sorted(
        {
            (where, page)
            for where, page in lines_matching(DOC_PAGE)
            if not (paths.REPO / page).is_file()
        }
    )
    assert missing == [], "\n".join(f"  {where}: {page}" for where, page in missing)
