"""CSV files as people open them: in a spreadsheet, where a cell starting with `=` is a formula."""

import csv
import io
from collections.abc import Iterable

from flask import Response, make_response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """Text as it should appear in an exported cell: formulas neutralised, None as empty."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in FORMULA_STARTS and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_csv(header: Iterable[str], rows: Iterable[Iterable]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return out.getvalue()


def download(body: str, filename: str) -> Response:
    """A CSV attachment that spreadsheet programs open with accents intact (UTF-8 with BOM)."""
    response = make_response("\ufeff" + body)
    response.mimetype = "text/csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
