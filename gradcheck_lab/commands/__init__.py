"""Subcommands of the command line, one module each: ``add_parser(sub)`` and ``run(args)``."""
