"""A year of a province (issue 28, target 4): the generator (``generate``), what it is made of
(``world``, ``clock``, ``simulate``, ``day``, ``texts``, ``loader``), the measurements on it
(``measure``, ``plans``) and their report (``report``). ``bench/year.py`` is the command;
``bench/run_all.py`` imports this package as ``year`` for the report of its JSON."""

from __future__ import annotations


def report(result: dict) -> str:
    from .render import report as made

    return made(result)
