"""`python -m kws ...` is the same as the `kws` command."""

from kws.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
