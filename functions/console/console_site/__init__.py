"""The web console's Lambda: the static files of `assets/`, served by the stack itself (`GET /console/`)."""
