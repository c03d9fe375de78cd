"""The relay's image and its tasks agree on the CPU architecture: an image built for another one never
starts (`exec format error`), and the deploy is rolled back."""

from __future__ import annotations

import re
from pathlib import Path

from posthorn_local import template

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = {"ARM64": "linux/arm64", "X86_64": "linux/amd64"}


def test_make_relay_image_builds_for_the_tasks_architecture() -> None:
    task = template.resources()["SmtpRelayTaskDefinition"]["Properties"]
    architecture = task["RuntimePlatform"]["CpuArchitecture"]
    assert architecture == "ARM64"  # Graviton: Fargate's price is 20 % under x86_64's
    recipe = (ROOT / "Makefile").read_text()
    relay_image = recipe[recipe.index("\nrelay-image:") :]
    relay_image = relay_image[: relay_image.index("\n\n")]
    assert re.findall(r"--platform (\S+)", relay_image) == [PLATFORMS[architecture]]
    assert "docker buildx build" in relay_image


def test_container_insights_is_a_parameter_and_off_by_default() -> None:
    [setting] = template.resources()["SmtpRelayCluster"]["Properties"]["ClusterSettings"]
    assert setting == {"Name": "containerInsights", "Value": {"Ref": "SmtpRelayContainerInsights"}}
    assert template.parameter_default("SmtpRelayContainerInsights") == "disabled"


def test_no_alarm_needs_container_insights() -> None:
    alarms = template.resources("AWS::CloudWatch::Alarm")
    assert "ECS/ContainerInsights" not in repr(alarms)
