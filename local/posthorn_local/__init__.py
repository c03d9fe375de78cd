"""Posthorn's local stack: development-only stand-ins for AWS services (never deployed)."""
