"""The in-process reference backend (tests, ``permsvc model test``)."""

from permsvc.store.memory.store import MemoryDatastore

__all__ = ("MemoryDatastore",)
