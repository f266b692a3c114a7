"""Storage: narrow protocols (protocol.py) and backends (memory, sqlite, postgres, index)."""
