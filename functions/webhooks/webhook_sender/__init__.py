"""The webhook sender: signed deliveries to customers' endpoints, retried on the schedule API.md gives."""
