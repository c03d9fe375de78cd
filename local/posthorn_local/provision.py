"""Create the template's stateful resources in an AWS endpoint (moto in-process or the moto server):
the tables as template.yaml declares them, the bucket, topics, queues, KMS keys and the two secrets."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from posthorn_local import template

# Keys of AWS::DynamoDB::Table that CreateTable accepts as they are.
_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")


@dataclass(frozen=True)
class LocalSmtpSecret:
    username: str
    password: str


def table_definition(logical_id: str = "Table") -> dict[str, Any]:
    properties = template.resources()[logical_id]["Properties"]
    return {key: properties[key] for key in _TABLE_KEYS if key in properties}


def provision(session: Any, *, prefix: str, smtp: LocalSmtpSecret) -> dict[str, str]:
    """Create everything; return the physical id of each logical id, as `!Ref` would."""
    ids: dict[str, str] = {}
    dynamodb = session.client("dynamodb")
    for logical_id in template.resources("AWS::DynamoDB::Table"):
        name = f"{prefix}-{logical_id}".lower()
        dynamodb.create_table(TableName=name, **table_definition(logical_id))
        ttl = template.resources()[logical_id]["Properties"].get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        ids[logical_id] = name

    s3 = session.client("s3")
    for logical_id in template.resources("AWS::S3::Bucket"):
        name = f"{prefix}-{logical_id}".lower()
        s3.create_bucket(Bucket=name)
        ids[logical_id] = name

    sns = session.client("sns")
    for logical_id in template.resources("AWS::SNS::Topic"):
        ids[logical_id] = sns.create_topic(Name=f"{prefix}-{logical_id}")["TopicArn"]

    sqs = session.client("sqs")
    queues = template.resources("AWS::SQS::Queue")
    # Dead-letter queues first: a queue's RedrivePolicy names its dead-letter queue's ARN.
    for logical_id in sorted(queues, key=lambda name: "RedrivePolicy" in queues[name]["Properties"]):
        attributes = queue_attributes(queues[logical_id]["Properties"], ids, sqs)
        ids[logical_id] = sqs.create_queue(QueueName=f"{prefix}-{logical_id}", Attributes=attributes)[
            "QueueUrl"
        ]

    for logical_id in template.resources("AWS::SES::ConfigurationSet"):
        ids[logical_id] = f"{prefix}-{logical_id}".lower()

    kms = session.client("kms")
    for logical_id in template.resources("AWS::KMS::Key"):
        ids[logical_id] = kms.create_key(Description=f"{prefix}-{logical_id}")["KeyMetadata"]["KeyId"]

    manager = session.client("secretsmanager")
    pepper = manager.create_secret(Name=f"{prefix}/credential-pepper", SecretString=secrets.token_urlsafe(48))
    ids["CredentialPepperSecret"] = pepper["ARN"]
    smtp_secret = manager.create_secret(
        Name=f"{prefix}/ses-smtp",
        SecretString=json.dumps({"username": smtp.username, "password": smtp.password}),
    )
    ids["SesSmtpSecretId"] = smtp_secret["ARN"]
    return ids


def queue_attributes(properties: dict[str, Any], ids: dict[str, str], sqs: Any) -> dict[str, str]:
    """The queue's timing and its redrive policy as template.yaml declares them (the rest is AWS-only)."""
    attributes: dict[str, str] = {
        name: str(properties[name])
        for name in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
        if name in properties
    }
    redrive = properties.get("RedrivePolicy")
    if redrive:
        target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        arn = sqs.get_queue_attributes(QueueUrl=ids[target], AttributeNames=["QueueArn"])["Attributes"]
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": arn["QueueArn"], "maxReceiveCount": int(redrive["maxReceiveCount"])}
        )
    return attributes


def environment(function: str, ids: dict[str, str], overrides: dict[str, str]) -> dict[str, str]:
    """The function's (or the relay task's) environment as the template declares it, resolved against the
    local resources."""
    return template.resolve_environment(template.environment_of(function), ids, overrides)
