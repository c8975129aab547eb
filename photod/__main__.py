"""Allow ``python -m photod``."""

from photod.cli import main

if __name__ == "__main__":
    main()
