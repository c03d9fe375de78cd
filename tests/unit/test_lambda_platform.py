"""The functions' architecture, the layer's and the wheels its Makefile installs are one choice: a layer of
x86_64 wheels under arm64 functions fails at the first import of pydantic_core, on AWS only."""

from __future__ import annotations

import re
from pathlib import Path

from posthorn_local import template

ROOT = Path(__file__).resolve().parents[2]
WHEEL_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


def test_functions_layer_and_wheels_share_one_architecture() -> None:
    architectures = template.load()["Globals"]["Function"]["Architectures"]
    assert architectures == ["arm64"]  # Graviton: 20 % under x86_64's GB-second
    functions = template.resources("AWS::Serverless::Function")
    assert functions
    for name, function in functions.items():
        assert function["Properties"].get("Architectures", architectures) == architectures, name
    layer = template.resources()["PosthornLayer"]["Properties"]
    assert layer["CompatibleArchitectures"] == architectures
    makefile = (ROOT / "layers/posthorn/Makefile").read_text()
    platform = re.search(r"^PLATFORM \?= (\S+)$", makefile, re.MULTILINE)
    assert platform is not None
    assert platform[1] == WHEEL_PLATFORMS[architectures[0]]
