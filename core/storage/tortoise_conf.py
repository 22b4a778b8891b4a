"""Configuration for tortoise's own CLI (``tortoise -c core.storage.tortoise_conf.TORTOISE_ORM ...``).

The database comes from ``DATABASE_URL`` (default ``sqlite://voices.db``), exactly as the app reads it.
"""

from __future__ import annotations

import os
from typing import Any

from core.settings import DEFAULT_DATABASE_URL
from core.storage.db import tortoise_config

TORTOISE_ORM: dict[str, Any] = tortoise_config(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
