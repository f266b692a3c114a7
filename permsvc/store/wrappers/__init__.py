"""Per-request decorators over the storage protocols, composed by :func:`wrap_for_request`."""

from permsvc.store.wrappers.batching import BatchingTupleReader
from permsvc.store.wrappers.contextual import ContextualTupleReader
from permsvc.store.wrappers.request import wrap_for_request

__all__ = ("BatchingTupleReader", "ContextualTupleReader", "wrap_for_request")
