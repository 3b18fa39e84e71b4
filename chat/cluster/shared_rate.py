"""A write budget every node shares: a token bucket in Redis."""

import redis
from flask import current_app

from .. import metrics

# A token bucket in Redis (time from Redis, so nodes' clocks do not matter); the key expires
# once the bucket would be full again.
_BUCKET_SCRIPT = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return allowed
"""


_bucket_scripts = {}


def shared_bucket_take(key, rate, burst):
    """Take a token from the bucket `key` shared by every node: True/False, or None when Redis
    does not answer (the caller falls back to this process' bucket: limits stay, per node)."""
    config = current_app.config
    url = config["CHAT_MESSAGE_QUEUE"]
    script = _bucket_scripts.get(url)
    if script is None:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        script = _bucket_scripts[url] = client.register_script(_BUCKET_SCRIPT)
    try:
        return bool(script(keys=[f"{config['CHAT_QUEUE_CHANNEL']}:rate:{key}"], args=[rate, burst]))
    except Exception:  # noqa: BLE001
        metrics.QUEUE_ERRORS.inc("rate_limit")
        return None
