"""Webhooks: the routes' use cases, the fan-out of events to deliveries, the sender's attempts and schedule,
signatures, and where a delivery may go."""
