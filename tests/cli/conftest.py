"""Fixtures for the CLI tests: the example plug-in installed as a real distribution."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "meshnet-echo"


def write_dist_info(site: Path, name: str, version: str, entry_points: dict[str, str]) -> Path:
    """A minimal installed distribution (``*.dist-info``) that importlib.metadata reads."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[meshnet.plugins]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return info


def example_site(site: Path) -> list[Path]:
    """Install meshnet-echo's metadata (from its pyproject) into ``site``; the paths to add."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    entry_points = project["entry-points"]["meshnet.plugins"]
    write_dist_info(site, project["name"], project["version"], entry_points)
    return [site, EXAMPLE / "src"]


@pytest.fixture
def echo_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """meshnet-echo found by ``importlib.metadata.entry_points`` in this process."""
    paths = example_site(tmp_path / "site")
    for path in paths:
        monkeypatch.syspath_prepend(str(path))
    return paths
