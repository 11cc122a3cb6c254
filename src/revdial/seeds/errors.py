"""The one error seed building raises for input it cannot use: it names the file, and the column and row when known."""

from __future__ import annotations


class SeedSourceError(ValueError):
    """A source table that cannot become seeds.

    The message reads `FILE: row R, column 'C': what is wrong`, e.g.
    `SeedSourceError: reviews.csv: column 'text' (mapped from 'review_body') not found; columns are: id, body, stars`.
    """

    def __init__(self, file: str, message: str, *, row: int | None = None, column: str | None = None):
        self.file, self.row, self.column = file, row, column
        where = []
        if row is not None:
            where.append(f"row {row}")
        if column is not None and not message.startswith("column"):
            where.append(f"column '{column}'")
        super().__init__(": ".join([file, *([", ".join(where)] if where else []), message]))
