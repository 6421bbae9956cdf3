"""What a user installs and reads: the extras, the licence, the README's example code."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_without_hypothesis(code):
    """Run ``code`` in a fresh interpreter in which ``import hypothesis`` fails, as after a plain install."""
    hide = "import sys; sys.modules['hypothesis'] = None\n"
    return subprocess.run([sys.executable, "-c", hide + code], cwd=ROOT, capture_output=True, text=True)


def test_the_library_imports_without_hypothesis():
    result = run_without_hypothesis("import tinygrad_lite, nn, tinygrad_lite.viz; print('ok')")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


def test_testing_without_hypothesis_says_which_extra_to_install():
    result = run_without_hypothesis("import tinygrad_lite.testing")
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ImportError: tinygrad_lite.testing needs hypothesis")
    assert "pip install tinygrad-lite[testing]" in last_line


def readme_block_after(heading):
    """The first ```python block of the README section that starts with ``heading``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(heading, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readmes_property_test_example_passes():
    code = readme_block_after("## Property tests for your own code")
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert len(tests) == 1
    tests[0]()  # hypothesis runs it on the profile's examples; it used to fail at once (x = 1.0)


def pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_testing_extra_brings_hypothesis():
    extras = pyproject()["project"]["optional-dependencies"]
    assert any(req.startswith("hypothesis") for req in extras["testing"])


def test_the_declared_licence_is_an_spdx_expression_with_its_file():
    config = pyproject()
    assert config["project"]["license"] == "MIT"  # the TOML table form is deprecated and warns
    assert config["project"]["license-files"] == ["LICENSE"]
    assert "setuptools>=77" in config["build-system"]["requires"]  # the first to read SPDX strings
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 tinygrad_lite developers" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
