"""`python -m tokmeter ARGS`: the tokmeter command line, exactly as the
`tokmeter` executable runs it (on this process's stdout and stderr, so a
terminal gets tables), in-process."""

import sys

from tokmeter import _tokmeter


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    # Python's buffered output first, then the command writes to the same fds.
    sys.stdout.flush()
    sys.stderr.flush()
    return _tokmeter.run_cli_stdio(args)


if __name__ == "__main__":
    sys.exit(main())
