"""Create the first admin credential of a deployed stack, with your own AWS credentials.

    make admin-credential STACK=posthorn-dev            (or CONFIG_ENV=prod → posthorn-prod)

It reads the stack's outputs (table, pepper secret), creates an `admin` credential exactly as
`POST /v1/credentials` would (keyed hash stored, secret never stored) and prints its api_key once.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import boto3

from posthorn.adapters.dynamodb.credentials import CredentialRepository
from posthorn.adapters.dynamodb.domains import DomainRepository
from posthorn.adapters.dynamodb.table import Table
from posthorn.logic.credentials import create_credential
from posthorn.models.credentials import CreateCredentialRequest, Permission


def stack_outputs(stack: str, region: str | None) -> dict[str, str]:
    described = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)
    return {
        output["OutputKey"]: output["OutputValue"] for output in described["Stacks"][0].get("Outputs", [])
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stack", required=True, help="CloudFormation stack name, e.g. posthorn-dev")
    parser.add_argument("--region", default=None)
    parser.add_argument("--name", default="admin")
    args = parser.parse_args()

    outputs = stack_outputs(args.stack, args.region)
    pepper = boto3.client("secretsmanager", region_name=args.region).get_secret_value(
        SecretId=outputs["CredentialPepperSecretArn"]
    )["SecretString"]
    table = Table(outputs["TableName"], boto3.client("dynamodb", region_name=args.region))
    created = create_credential(
        CreateCredentialRequest(name=args.name, permissions=[Permission.ADMIN]),
        CredentialRepository(table),
        DomainRepository(table),
        pepper.encode(),
        datetime.now(UTC),
    )
    print(f"admin credential {created.username} created; its api_key (shown once):\n{created.api_key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
