"""The HTTPS API function: every `/v1/*` route of API.md, on one Powertools resolver."""
