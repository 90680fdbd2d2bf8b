"""`python -m tokmeter ARGS`: the tokmeter command line, in-process."""

import sys

from tokmeter import _tokmeter


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    code, out, err = _tokmeter.run_cli(args)
    sys.stdout.flush()
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    sys.stderr.buffer.write(err)
    sys.stderr.buffer.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
