"""The ``diff2in1`` command line: one module per sub-command, each with a ``register(subparsers)``."""
