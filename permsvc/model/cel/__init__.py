"""A Common Expression Language (CEL) implementation for OpenFGA conditions: parser, type checker,
cost-bounded partial evaluator, and OpenFGA's ``ipaddress`` extension. Pure Python, no I/O."""
