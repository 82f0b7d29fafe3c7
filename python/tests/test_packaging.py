"""Packaging: the build requirements are declared, so pip can build the
package in an isolated environment from nothing but what pyproject.toml
names (tests/python-test.sh installs it that way, offline, into a venv
without `wheel`)."""
import pathlib
import re

import pytest

tomllib = pytest.importorskip("tomllib")

PYPROJECT = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_build_requirements_name_setuptools_and_wheel():
    with open(PYPROJECT, "rb") as f:
        build = tomllib.load(f)["build-system"]
    names = {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() for r in build["requires"]}
    # setuptools before 70.1 has no bdist_wheel of its own: pip fails with
    # "invalid command 'bdist_wheel'" where wheel is not among the requirements.
    assert {"setuptools", "wheel"} <= names
    assert build["build-backend"] == "setuptools.build_meta"
