"""The `kws` subcommands, one module per stage; each has `register(commands)` adding its parsers.

Modules here import only argparse and the standard library at load time (`kws --help` never loads torch);
handlers import their stage lazily.
"""
