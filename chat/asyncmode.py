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


def unpatched_poll():
    """The operating system's `select.poll` when eventlet or gevent patched it, else None.

    A poll through it blocks the whole process, every green thread with it: only for a wait
    bounded to a millisecond or so (chat/pgwire.py, AnswerWait). None when nothing is patched
    (`flask run`'s threads): a thread's blocking read waits alone there already.
    """
    mode = detect_async_mode()
    if mode == "eventlet":
        return sys.modules["eventlet.patcher"].original("select").poll
    if mode == "gevent":
        return sys.modules["gevent.monkey"].get_original("select", "poll")
    return None
