"""Value types and base errors shared by every layer; imports nothing else from permsvc."""
