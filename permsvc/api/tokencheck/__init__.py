"""The token-subject check API (/v1/check, /v1/check/batch, /v1/objects, /v1/relations)."""
