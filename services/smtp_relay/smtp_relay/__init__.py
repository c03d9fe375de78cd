"""Posthorn's SMTP relay: apps send over SMTP with their API credentials (a long-running aiosmtpd server,
deployed as an ECS service; `python -m smtp_relay`)."""
