"""The ``permsvc`` command line."""
