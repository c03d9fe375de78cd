"""Credentials (`CRED#<username>`), listed in creation order through gsi1 (`CREDENTIALS`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from posthorn.adapters.dynamodb.table import Repository, from_item, listing_keys, to_item
from posthorn.models.credentials import Credential, CredentialStatus


def _key(username: str) -> dict[str, str]:
    return {"pk": f"CRED#{username}", "sk": "CRED"}


class CredentialRepository(Repository):
    def get_credential(self, username: str) -> Credential | None:
        values = self.get(_key(username))
        return Credential.model_validate(values) if values is not None else None

    def put_credential(self, credential: Credential) -> None:
        values = credential.model_dump(mode="json")
        created = values["created_at"]
        self.db.put_item(
            TableName=self.table,
            Item=to_item(
                {
                    **_key(credential.username),
                    **listing_keys("CREDENTIALS", created, credential.username),
                    **values,
                }
            ),
        )

    def list_credentials(self) -> list[Credential]:
        return [Credential.model_validate(item) for item in self.listed("CREDENTIALS")]

    def update_credential(
        self, username: str, fields: Mapping[str, Any], *, unless_revoked: bool
    ) -> Credential | None:
        names = {f"#f{index}": name for index, name in enumerate(fields)}
        sets = [f"{alias} = :v{alias[2:]}" for alias, name in names.items() if fields[name] is not None]
        removes = [alias for alias, name in names.items() if fields[name] is None]
        values = {f":v{alias[2:]}": fields[name] for alias, name in names.items() if fields[name] is not None}
        condition = "attribute_exists(pk)"
        if unless_revoked:
            names["#status"] = "status"
            values[":revoked"] = CredentialStatus.REVOKED.value
            condition += " AND #status <> :revoked"
        update = " ".join(
            part
            for part in (sets and "SET " + ", ".join(sets), removes and "REMOVE " + ", ".join(removes))
            if part
        )
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=to_item(_key(username)),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                **({"ExpressionAttributeValues": to_item(values)} if values else {}),
                ReturnValues="ALL_NEW",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return None
        return Credential.model_validate(from_item(response["Attributes"]))
