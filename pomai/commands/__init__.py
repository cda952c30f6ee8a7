"""Sub-commands of the ``pomai`` command line, one module each (see :mod:`pomai.cli`)."""
