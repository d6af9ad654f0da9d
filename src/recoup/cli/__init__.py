"""The ``recoup`` command: the edge where a user drives the platform from a shell."""
