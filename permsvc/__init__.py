"""permsvc: a fine-grained, OpenFGA-compatible permission service."""

__version__ = "0.1.0"
