"""UTC, timezone-aware time."""
from datetime import datetime, timezone


def utc_now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
