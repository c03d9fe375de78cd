"""Sending a message: the steps every entry point takes (sender, suppressions, record, SES stamp), the MIME,
templates, rate limits and `Idempotency-Key`, acceptance into the send queue, batches, delivery over SMTP,
and the send worker's drain of the queue."""
