"""JSON as strict readers take it: never ``NaN`` or ``Infinity``, which Python writes by default.

Every JSON file and line napari-fada writes goes through :func:`dumps`: a float that is not
finite (a broken score, a metric of nothing) is written as ``null``, a missing value.
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every non-finite float inside it replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps`` of ``value`` made finite; raises ValueError rather than write NaN."""
    return json.dumps(finite(value), allow_nan=False, **options)
