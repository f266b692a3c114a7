"""The authorization model: OpenFGA DSL, JSON wire form, typesystem and validation (pure, no I/O)."""
