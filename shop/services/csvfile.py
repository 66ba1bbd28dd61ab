"""CSV files as people open them: in a spreadsheet, where a cell starting with `=` is a formula.

The file follows the reader's language, as their spreadsheet does: where numbers are written
with a decimal comma (French, Russian, Turkish…), cells are separated by `;` and decimals take a
comma (`12,50`), so the file opens in columns with numbers that add up; elsewhere, `,` and `.`.
Headers are translated by the callers; UTF-8 with a BOM keeps accents intact.
"""

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

from babel.numbers import get_decimal_symbol
from flask import Response, make_response
from flask_babel import get_locale

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


def conventions(locale=None) -> tuple[str, str]:
    """(cell separator, decimal symbol) for a language: `;` and `,` where decimals take a comma."""
    locale = locale or get_locale() or "en"
    decimal = get_decimal_symbol(locale)
    decimal = decimal if decimal in (",", ".") else "."  # Arabic-script separators: a spreadsheet reads "."
    return (";" if decimal == "," else ","), decimal


def _cell(value, decimal: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return safe_cell(value)
    text = str(value) if not isinstance(value, float) else format(value, ".15g")
    return text.replace(".", decimal)


def to_csv(header: Iterable[str], rows: Iterable[Iterable], *, locale=None) -> str:
    """A table as CSV text in the conventions of `locale` (default: the current language).
    Numbers (int, float, Decimal) get the language's decimal symbol; text is never a formula."""
    delimiter, decimal = conventions(locale)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow([safe_cell(str(name)) for name in header])
    for row in rows:
        writer.writerow([_cell(value, decimal) for value in row])
    return out.getvalue()


def download(body: str, filename: str) -> Response:
    """A CSV attachment that spreadsheet programs open with accents intact (UTF-8 with BOM)."""
    response = make_response("\ufeff" + body)
    response.mimetype = "text/csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
