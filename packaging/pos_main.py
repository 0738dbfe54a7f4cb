"""The bundle's entry point (packaging/pos.spec): the same as the ``pos`` console script."""

from pos.cli import main

if __name__ == "__main__":
    main()
