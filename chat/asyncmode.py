"""Choose Flask-SocketIO's async_mode from what is actually monkey-patched."""

import sys


def detect_async_mode():
    """'eventlet' or 'gevent' when that library patched the socket module, else 'threading'.

    Flask-SocketIO would pick eventlet merely because it is installed, which breaks
    `flask run`; the server that loaded us (a gunicorn worker) is what decides.
    """
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("socket"):
        return "eventlet"
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("socket"):
        return "gevent"
    return "threading"
