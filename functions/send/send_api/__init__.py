"""The HTTPS API function: every `/v1/*` route of docs/api.md, on one Powertools resolver."""
