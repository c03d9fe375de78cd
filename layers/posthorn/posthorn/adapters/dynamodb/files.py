"""The file cache's records (`FileStore`): a file per key (`FILE#<file_key>`), and a reference count per
object shared by an owner's uploads of the same bytes (`BLOB#<owner>#<sha256>`)."""

from __future__ import annotations

from typing import Any

from posthorn.adapters.dynamodb.table import Repository, from_item, to_item
from posthorn.models.files import FileRecord, FileStatus


class FileRepository(Repository):
    @staticmethod
    def _file_key(file_key: str) -> dict[str, Any]:
        return to_item({"pk": f"FILE#{file_key}", "sk": "FILE"})

    @staticmethod
    def _blob_key(owner: str, sha256: str) -> dict[str, Any]:
        return to_item({"pk": f"BLOB#{owner}#{sha256}", "sk": "BLOB"})

    def put_file(self, record: FileRecord) -> None:
        values = record.model_dump(mode="json")
        ttl = int(record.expires_at.timestamp())
        self.db.put_item(
            TableName=self.table,
            Item={**self._file_key(record.file_key), **to_item({**values, "ttl": ttl})},
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_file(self, file_key: str) -> FileRecord | None:
        item = self.db.get_item(TableName=self.table, Key=self._file_key(file_key), ConsistentRead=True)
        return FileRecord.model_validate(from_item(item["Item"])) if "Item" in item else None

    def delete_file(self, file_key: str) -> FileRecord | None:
        response = self.db.delete_item(
            TableName=self.table, Key=self._file_key(file_key), ReturnValues="ALL_OLD"
        )
        attributes = response.get("Attributes")
        return FileRecord.model_validate(from_item(attributes)) if attributes else None

    def settle_upload(
        self, file_key: str, status: FileStatus, *, sha256: str | None = None, rejection: str | None = None
    ) -> FileRecord | None:
        updates = {"status": status, "sha256": sha256, "rejection": rejection}
        values = {key: value for key, value in updates.items() if value is not None}
        names = {f"#f{index}": name for index, name in enumerate(values)}
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=self._file_key(file_key),
                UpdateExpression="SET " + ", ".join(f"#f{index} = :f{index}" for index in range(len(values))),
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={**names, "#status": "status"},
                ExpressionAttributeValues=to_item(
                    {
                        **{f":f{index}": value for index, value in enumerate(values.values())},
                        ":pending": "pending",
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return None
        return FileRecord.model_validate(from_item(response["Attributes"]))

    def reference_blob(self, owner: str, sha256: str, *, expires_at: int) -> int:
        response = self.db.update_item(
            TableName=self.table,
            Key=self._blob_key(owner, sha256),
            UpdateExpression="ADD refs :one SET #ttl = :ttl",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues=to_item({":one": 1, ":ttl": expires_at}),
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["refs"]["N"])

    def release_blob(self, owner: str, sha256: str) -> int:
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=self._blob_key(owner, sha256),
                UpdateExpression="ADD refs :minus",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item({":minus": -1}),
                ReturnValues="UPDATED_NEW",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return 0
        return int(response["Attributes"]["refs"]["N"])

    def forget_blob(self, owner: str, sha256: str) -> bool:
        try:
            self.db.delete_item(
                TableName=self.table,
                Key=self._blob_key(owner, sha256),
                ConditionExpression="attribute_not_exists(pk) OR refs <= :zero",
                ExpressionAttributeValues=to_item({":zero": 0}),
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True
