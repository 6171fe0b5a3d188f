"""`python -m export --run demo` is the same as `kws export --run demo`."""

from export.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
