"""Create the first admin credential of a deployed stack, with your own AWS credentials.

    make admin-credential STACK=posthorn-dev            (or CONFIG_ENV=prod → posthorn-prod)

It reads the stack's outputs (table, pepper secret), creates an `admin` credential as the local stack seeds
its first admin (keyed hash stored, secret never stored; the one kind of credential without a domain, which
`POST /v1/credentials` refuses) and prints its api_key once.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import boto3

from posthorn.adapters.dynamodb.credentials import CredentialRepository
from posthorn.adapters.dynamodb.table import Table
from posthorn.logic.accounts.credentials import api_key, seed_credential
from posthorn.logic.ids import new_secret, new_username
from posthorn.models.credentials import Permission


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
    key = api_key(new_username(), new_secret())
    created = seed_credential(
        CredentialRepository(table),
        pepper.encode(),
        key,
        name=args.name,
        permissions=[Permission.ADMIN],
        domains=[],
        now=datetime.now(UTC),
    )
    print(f"admin credential {created.username} created; its api_key (shown once):\n{key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
