"""``python -m cli``: the ``xiaoer`` command, for child processes started with this interpreter."""

from cli.main import main

main()
