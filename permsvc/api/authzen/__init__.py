"""AuthZEN Authorization API 1.0 route group: evaluation, evaluations, search, PDP metadata."""
