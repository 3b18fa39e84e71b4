"""Run by tests/test_pgwire.py in a process of its own, patched by eventlet or gevent (argv[1]):
how many times a green thread that only yields got to run while pgwire statements waited for
PostgreSQL (argv[2], a URL), without and with `wait_without_yielding`; prints JSON."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
library, url = sys.argv[1], sys.argv[2]
if library == "eventlet":
    import eventlet

    eventlet.monkey_patch()
    spawn, pause = eventlet.spawn, lambda: eventlet.sleep(0)
else:
    from gevent import monkey

    monkey.patch_all()
    import gevent

    spawn, pause = gevent.spawn, lambda: gevent.sleep(0)

from sqlalchemy.engine import make_url  # noqa: E402

from chat import pgwire  # noqa: E402
from chat.messages.writer import unpatched_select  # noqa: E402

parts = make_url(url)
conn = pgwire.Connection(parts.username, host=parts.host, port=parts.port or 5432, database=parts.database)
conn.autocommit = True
ticks = [0]


def ticker():
    while True:
        ticks[0] += 1
        pause()


spawn(ticker)
pause()


def turns(sql, times):
    cursor = conn.cursor()
    start = ticks[0]
    for n in range(times):
        cursor.execute(sql, (n,))
    return ticks[0] - start


calls = []
select = unpatched_select()


def counting(*args):
    calls.append(args[3])
    return select(*args)


result = {"green": turns("SELECT %s::int", 50)}
conn.wait_without_yielding(0.5, counting)
result["spinning"] = turns("SELECT %s::int", 50)
result["spins"] = len(calls)
# A database slower than the wait: three waits run out, then none for a minute; the statements
# still answer, and the loop turns while they wait.
calls.clear()
conn.wait_without_yielding(0.002, counting)
result["slow"] = turns("SELECT pg_sleep(0.02), %s::int", 6)
result["slow_spins"] = len(calls)
result["unpatched"] = select is not None and select.__module__ == "select"
print(json.dumps(result))
