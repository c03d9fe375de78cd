"""The domain's use cases, one package per feature; no AWS, no network, no settings (`make lint` checks).
What a use case needs from outside comes in as ports (`posthorn/ports/`)."""
