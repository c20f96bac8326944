"""docs/troubleshooting.md covers every error code the plugins' pages document, and its
links within the page lead somewhere.

| source                                                    | expected in troubleshooting.md  |
|-----------------------------------------------------------|---------------------------------|
| each code in the "Error codes" tables of docs/ipam.md,    | a "### Code N: ..." entry with  |
| docs/coordinator.md, docs/ifacer.md; the codes README     | Means and Fix                   |
| lists as common to all plugins                            |                                 |
| each ``(#anchor)`` link of the page                       | a heading with that anchor      |
"""

from __future__ import annotations

import re

import pytest

from tools.testbed import paths

DOCS = paths.REPO / "docs"
PAGE = (DOCS / "troubleshooting.md").read_text()


def documented_codes(name: str) -> set[int]:
    text = (DOCS / name).read_text()
    table = text.split("## Error codes", 1)[1].split("\n## ", 1)[0]
    return {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.M)}


def common_codes() -> set[int]:
    text = (paths.REPO / "README.md").read_text()
    section = text.split("## CNI behaviour common to all plugins", 1)[1].split("###", 1)[0]
    return {
        int(m)
        for m in re.findall(
            r"(?<![\d.])(\d{1,2}) (?:incompatible|invalid|stdin|the plugin|try)", section
        )
    }


def entries() -> dict[int, str]:
    found = re.split(r"^### Code (\d+): ", PAGE, flags=re.M)
    return {int(code): body.split("\n### ", 1)[0] for code, body in zip(found[1::2], found[2::2])}


def anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")


@pytest.mark.parametrize("page", ["ipam.md", "coordinator.md", "ifacer.md"])
def test_every_code_a_plugin_page_documents_has_an_entry(page: str) -> None:
    codes = documented_codes(page)
    assert codes, f"no error-code table found in docs/{page}"
    assert codes - set(entries()) == set()


def test_the_codes_common_to_all_plugins_have_entries() -> None:
    assert common_codes() >= {1, 4, 5, 6, 7, 8, 11}
    assert common_codes() - set(entries()) == set()


def test_each_entry_says_what_it_means_and_how_to_fix_it() -> None:
    for code, body in entries().items():
        assert "**Means" in body and "**Fix.**" in body, code


def test_each_link_within_the_page_has_its_heading() -> None:
    headings = {anchor(h) for h in re.findall(r"^#{2,3} (.+)$", PAGE, re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", PAGE))
    assert links and links - headings == set()
