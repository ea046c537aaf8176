"""``python -m respite`` is the ``respite`` command."""

from respite.entrypoints.cli.main import main

main()
