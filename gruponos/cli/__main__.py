"""``python -m gruponos.cli``."""

from gruponos.cli.app import main

main()
