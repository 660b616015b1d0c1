"""A study's table as a file: CSV that a spreadsheet will not run, or Parquet.

Both are encoded in memory first and written through :mod:`.files` (a temporary beside the
target, renamed over it), so a checkpoint saved from ``Study.on_batch`` is never truncated
by a full disk, a link is never written through, and an existing file is replaced only
with ``overwrite=True``.

Spreadsheets (Excel, LibreOffice, Google Sheets) run a CSV field that starts with ``=``,
``+``, ``-`` or ``@`` (and tab or carriage return) as a formula; prompts and the fields of a
downloaded data set are untrusted text. Following OWASP's advice on CSV injection, such a
text field is written with a leading single quote (``'=1+1``), which spreadsheets show as
text; numeric columns (``value``, ``layer``) are left as numbers.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from ..base.files import check_output_path, write_bytes_atomic, write_text_atomic

__all__ = ["FORMULA_STARTS", "neutralize_formula", "save_csv", "save_parquet"]

#: First characters that make a spreadsheet read a CSV field as a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formula(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run, else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(frame: Any) -> str:
    """The CSV of a pandas DataFrame, its text fields and column names neutralized."""
    frame = frame.copy()
    for column in frame.select_dtypes(include=["object", "string"]).columns:
        frame[column] = frame[column].map(neutralize_formula)
    frame.columns = [neutralize_formula(str(c)) for c in frame.columns]
    # RFC 4180 line ends: the csv writer quotes a field holding any of their characters,
    # so a lone CR inside a prompt cannot end a row early.
    return frame.to_csv(index=False, lineterminator="\r\n")


def save_csv(frame: Any, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``frame`` as neutralized CSV (see the module docstring), atomically."""
    check_output_path(path, overwrite=overwrite)  # before encoding a large table
    return write_text_atomic(path, csv_text(frame), overwrite=overwrite)


def save_parquet(frame: Any, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``frame`` as Parquet (needs pyarrow), atomically."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError(
            "Parquet files need pyarrow: pip install pyarrow (or use to_csv)"
        ) from None
    check_output_path(path, overwrite=overwrite)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return write_bytes_atomic(path, buffer.getvalue(), overwrite=overwrite)
