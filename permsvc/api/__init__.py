"""The HTTP API: the Litestar application, its route groups, errors and operations endpoints."""
