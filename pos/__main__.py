"""``python -m pos``: the same as the ``pos`` command."""

from pos.cli import main

main()
