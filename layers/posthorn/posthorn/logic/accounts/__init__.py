"""Accounts: credentials (keys, permissions, secrets) and sending domains."""
