"""The relay's ports in template.yaml agree everywhere a port is named: every port the relay listens on
(RELAY_STARTTLS_PORTS, RELAY_TLS_PORTS) has a load balancer listener and target group on it, a task port
mapping, the service's load balancer entry, the load balancer's ingress for every allowed CIDR position and
egress to the tasks, and the tasks' ingress from the load balancer, and both alarms watch its target group.
A port added in one place only (port 25 came in six) fails here, not at deploy time."""

from __future__ import annotations

from typing import Any

import pytest

from posthorn_local import template

CIDR_POSITIONS = 4  # SmtpAllowedCidrs holds at most four


def relay_ports() -> list[int]:
    environment = template.task_environment("SmtpRelayTaskDefinition")
    ports = f"{environment['RELAY_STARTTLS_PORTS']},{environment['RELAY_TLS_PORTS']}"
    return [int(port) for port in ports.split(",")]


def rules(direction: str) -> list[dict[str, Any]]:
    listed = template.resources()["SmtpLoadBalancerSecurityGroup"]["Properties"][direction]
    # An optional rule is `!If [SmtpAllowedCidrN, rule, !Ref AWS::NoValue]`.
    return [rule["Fn::If"][1] if "Fn::If" in rule else rule for rule in listed]


def test_the_relay_listens_on_587_2525_and_25_with_starttls_and_465_with_tls() -> None:
    environment = template.task_environment("SmtpRelayTaskDefinition")
    assert environment["RELAY_STARTTLS_PORTS"].split(",") == ["587", "2525", "25"]
    assert environment["RELAY_TLS_PORTS"] == "465"


@pytest.mark.parametrize("port", relay_ports())
def test_every_relay_port_is_wired_through_the_load_balancer(port: int) -> None:
    resources = template.resources()
    listeners = {
        r["Properties"]["Port"]: r["Properties"]["DefaultActions"][0]["TargetGroupArn"]["Ref"]
        for r in template.resources("AWS::ElasticLoadBalancingV2::Listener").values()
    }
    group = listeners[port]
    assert resources[group]["Properties"]["Port"] == port
    [container] = resources["SmtpRelayTaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert {"ContainerPort": port, "Protocol": "tcp"} in container["PortMappings"]
    service = resources["SmtpRelayService"]
    assert {
        "ContainerName": "smtp-relay",
        "ContainerPort": port,
        "TargetGroupArn": {"Ref": group},
    } in service["Properties"]["LoadBalancers"]
    assert f"SmtpListener{port}" in service["DependsOn"]

    ingress = [rule for rule in rules("SecurityGroupIngress") if rule["FromPort"] == port == rule["ToPort"]]
    assert len(ingress) == CIDR_POSITIONS
    assert [rule for rule in rules("SecurityGroupEgress") if rule["FromPort"] == port]
    task_ingress = [
        r["Properties"]
        for r in template.resources("AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["FromPort"] == port
    ]
    assert [rule["SourceSecurityGroupId"] for rule in task_ingress] == [
        {"Fn::GetAtt": ["SmtpLoadBalancerSecurityGroup", "GroupId"]}
    ]

    for alarm in ("SmtpRelayUnhealthyTargetsAlarm", "SmtpRelayRunningTasksAlarm"):
        watched = str(resources[alarm]["Properties"]["Metrics"])
        assert f"'{group}'" in watched, (alarm, group)
