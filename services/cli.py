"""Transitional, until every caller names ``cli``: the CLI is the ``cli`` package now (issue 24).
Delete this file once no test, bench or page script runs ``-m services.cli`` or imports it."""

from cli.main import main, parser

__all__ = ["main", "parser"]

if __name__ == "__main__":
    main()
