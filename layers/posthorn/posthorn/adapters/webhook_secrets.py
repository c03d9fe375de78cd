"""Webhook signing secrets sealed with KMS (WebhookSecretsKey in template.yaml). The encryption context
binds each ciphertext to its webhook, so a sealed secret copied onto another webhook does not open. Only
the API function may encrypt and only the sender may decrypt; the table holds ciphertext alone."""

from __future__ import annotations

import base64

from posthorn.adapters.aws import client


class KmsSecretBox:
    def __init__(self, key_id: str) -> None:
        self.key_id = key_id

    def seal(self, secret: str, *, context: str) -> str:
        answer = client("kms").encrypt(
            KeyId=self.key_id, Plaintext=secret.encode(), EncryptionContext={"webhook_id": context}
        )
        return base64.b64encode(answer["CiphertextBlob"]).decode()

    def open(self, sealed: str, *, context: str) -> str:
        answer = client("kms").decrypt(
            KeyId=self.key_id,
            CiphertextBlob=base64.b64decode(sealed),
            EncryptionContext={"webhook_id": context},
        )
        return bytes(answer["Plaintext"]).decode()
