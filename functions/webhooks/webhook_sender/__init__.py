"""The webhook sender: signed deliveries to customers' endpoints, retried on the contract's schedule
(docs/api.md, "Webhooks")."""
