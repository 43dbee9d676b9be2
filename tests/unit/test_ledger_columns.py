"""The ledger reads its columns by position (ledger._row(*row)): the columns it selects and the
parameters that take them must stay in the same order, or two values would swap unnoticed."""

from __future__ import annotations

import inspect

from services.intake import ledger


def test_the_ledger_takes_its_columns_in_the_order_it_reads_them():
    read = [column.key for column in ledger._READ]
    taken = [name.removesuffix("_") for name in inspect.signature(ledger._row).parameters]
    assert read == taken
