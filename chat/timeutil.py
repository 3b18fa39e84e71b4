"""UTC, timezone-aware time."""

from datetime import UTC, datetime


def utc_now_iso():
    return datetime.now(UTC).isoformat(timespec="milliseconds")
