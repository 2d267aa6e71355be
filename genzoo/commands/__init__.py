"""Subcommands of the ``genzoo`` command line, one module each (see genzoo.cli)."""
