"""The ``lantai`` command line."""
