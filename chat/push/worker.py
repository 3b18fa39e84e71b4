"""The service worker at /sw.js (scope: the whole site) and the web app manifest."""

from flask import Blueprint, current_app, jsonify, send_from_directory, url_for

bp = Blueprint("push_worker", __name__)


@bp.get("/sw.js")
def service_worker():
    """static/sw.js at the site's root, so that its scope is "/"; never cached for long (a new
    version must reach browsers), its own CSP (a worker's script runs under the policy it is
    served with)."""
    response = send_from_directory(current_app.static_folder, "sw.js", max_age=0)
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    """What the page installs as: name, start URL, icons (maskable, from static/icons)."""
    icons = [
        {
            "src": url_for("static", filename=f"icons/icon-{size}.png"),
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": "any maskable",
        }
        for size in (192, 512)
    ]
    body = {
        "name": "Chat",
        "short_name": "Chat",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b5ed7",
        "icons": icons,
    }
    response = jsonify(body)
    response.headers["Content-Type"] = "application/manifest+json"
    return response
