"""The ``napari-fada`` command line, the only code that parses arguments.

:mod:`main` dispatches to one module per subcommand; each has ``add_arguments(parser)`` and
``run(args)``, and only turns options into calls of the library (it never imports another
command). :mod:`options` holds the options several commands share.
"""
