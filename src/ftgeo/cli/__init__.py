"""The ``ftgeo`` command: a thin layer over the Python API."""
