"""The check `make build` runs on the built layer (scripts/check_layer_bytecode.py): it accepts only bytecode
Lambda's read-only python3.11 will load as it is, so a layer that would compile itself on every cold start
fails the build."""

from __future__ import annotations

import compileall
import py_compile
from pathlib import Path

from scripts.check_layer_bytecode import problems


def _site(tmp_path: Path) -> Path:
    package = tmp_path / "python" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "module.py").write_text("VALUE = 1\n")
    (tmp_path / "python" / "single.py").write_text("VALUE = 2\n")
    return tmp_path / "python"


def _compile(site: Path, mode: py_compile.PycInvalidationMode) -> None:
    assert compileall.compile_dir(site, quiet=1, force=True, invalidation_mode=mode)


def test_unchecked_hash_bytecode_for_every_module_passes(tmp_path: Path) -> None:
    site = _site(tmp_path)
    _compile(site, py_compile.PycInvalidationMode.UNCHECKED_HASH)
    assert problems(site) == []


def test_a_module_without_bytecode_fails(tmp_path: Path) -> None:
    site = _site(tmp_path)
    _compile(site, py_compile.PycInvalidationMode.UNCHECKED_HASH)
    (site / "pkg" / "late.py").write_text("VALUE = 3\n")
    assert problems(site) == ["pkg/late.py: no late.cpython-311.pyc"]


def test_timestamp_or_checked_bytecode_fails(tmp_path: Path) -> None:
    site = _site(tmp_path)
    for mode in (py_compile.PycInvalidationMode.TIMESTAMP, py_compile.PycInvalidationMode.CHECKED_HASH):
        _compile(site, mode)
        assert len(problems(site)) == 3
        assert all(problem.endswith("bytecode is not unchecked-hash") for problem in problems(site))


def test_an_empty_build_fails(tmp_path: Path) -> None:
    assert problems(tmp_path) == [f"no modules under {tmp_path}: run `make build`"]
