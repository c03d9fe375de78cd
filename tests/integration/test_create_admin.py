"""A deployed stack's first admin credential, made by scripts/create_admin.py from the stack's outputs."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Stack
from tests.support.api import ApiClient


def test_create_admin_prints_a_working_key_and_stores_only_a_hash(
    stack: Stack, api: ApiClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts import create_admin

    outputs = {"TableName": stack.table, "CredentialPepperSecretArn": stack.ids["CredentialPepperSecret"]}
    stack.session.client("cloudformation").create_stack(
        StackName="posthorn-dev",
        TemplateBody=json.dumps(
            {
                "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()},
            }
        ),
    )
    monkeypatch.setattr("sys.argv", ["create_admin.py", "--stack", "posthorn-dev", "--region", "us-east-1"])

    assert create_admin.main() == 0

    api_key = capsys.readouterr().out.strip().splitlines()[-1]
    secret = api_key.split(".", 1)[1]
    assert api.post("/v1/domains", {"domain": "example.org"}, api_key=api_key).status == 201
    items = stack.session.client("dynamodb").scan(TableName=stack.table)["Items"]
    assert secret not in json.dumps(items)
