"""The OpenFGA-compatible HTTP surface: routes and wire schemas."""
