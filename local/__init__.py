"""The embedded local cloud. Its modules read and write the function's own formats (the table's
key layout, records, events), so the function's package is importable wherever `local` is."""

import sys
from pathlib import Path

_LAMBDA_SRC = str(Path(__file__).resolve().parent.parent / "lambda_src")
if _LAMBDA_SRC not in sys.path:
    sys.path.insert(0, _LAMBDA_SRC)
