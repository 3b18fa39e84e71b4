"""GET /health: the database and, with a message queue, Redis; 503 while one is down."""

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from ..cluster.queue import redis_status
from ..extensions import db

log = logging.getLogger("chat.health")
bp = Blueprint("health", __name__)


def database_status():
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        log.warning("health: database unavailable: %s", exc)
        db.session.rollback()
        return "unavailable"


@bp.get("/health")
def health():
    """200 {"status": "healthy", "database": "ok"[, "redis": "ok"]}, or 503 naming what failed.

    "redis" is "unavailable" while Redis does not answer, and "reconnecting" from its return
    until this node has subscribed again (messages from other nodes are delayed meanwhile).
    """
    report = {"database": database_status()}
    if current_app.config.get("CHAT_MESSAGE_QUEUE"):
        report["redis"] = redis_status()
    healthy = all(state == "ok" for state in report.values())
    response = jsonify(status="healthy" if healthy else "unhealthy", **report)
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if healthy else 503
