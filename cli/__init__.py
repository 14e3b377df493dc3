"""The ``catembed`` command line, above ``training``, ``app`` and ``scoring``."""
