"""The ``neutrostruct`` console command: the same command line as the Rust binary."""

import sys

from . import _native


def main() -> None:
    """Runs the command line with ``sys.argv`` and exits with its code."""
    sys.exit(_native.run_cli(["neutrostruct", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
