"""Posthorn's domain: models, logic (no AWS), adapters (the only code that speaks boto3 or SMTP), settings."""
