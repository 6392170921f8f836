"""What the README promises a newcomer, checked against the repository: the API reference
it links is in the repository, the headless and PATH hints are there, and every `make`
target and `contract-desk` option it names exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_api_reference_is_in_the_repository() -> None:
    links = re.findall(r"\]\(([^)#]+\.md)\)", README)
    assert "docs/api.md" in links
    assert all((ROOT / link).is_file() for link in links)
    assert "shared/API.md" not in README


def test_headless_and_path_hints() -> None:
    assert "xvfb-run make run" in README
    assert ".venv/bin/contracts" in README and "make shell" in README


def test_every_make_target_named_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    named = set(re.findall(r"`make ([a-z][a-z-]*)`", README))
    assert {"run", "test", "test-fast", "shell"} <= named
    assert named <= targets


@pytest.mark.gui  # the desk's parser lives in desktop.app, which imports Qt
def test_every_desk_option_named_exists() -> None:
    from desktop.app import build_parser

    known = {option for action in build_parser()._actions for option in action.option_strings}
    named = set(re.findall(r"contract-desk((?: --?[a-z-]+)+)", README))
    options = {word for group in named for word in group.split() if word.startswith("-")}
    assert "--print-server" in options
    assert options <= known, options - known
