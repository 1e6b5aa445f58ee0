"""``python -m cli``: the same as the ``cinestream`` command."""

from cli.main import main

main()
