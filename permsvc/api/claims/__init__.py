"""The claim-feed route group: ``POST /v1/claims`` and the per-store claim-spec admin routes."""
