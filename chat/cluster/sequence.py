"""Each node hands a channel's stored messages to its clients in id order.

A channel's messages are stored one transaction at a time across nodes (chat/cluster/order.py),
but each node publishes after its commit: node A stores 53, node B stores 54 and publishes it
before A publishes 53. Every message carries `prev`, the channel's message before it, so the
receiving node knows when one is still on its way: it holds the later message until the earlier
one arrives (a few milliseconds without a fault), then hands both out in order. A message that
does not come within `wait` seconds (its node died between commit and publish) is given up on:
what was held goes out, and clients fill the gap with `get_history {since}` as after any outage.

Nothing waits on the database or on another node: the cost is a dict lookup per message.
"""

import heapq


class Resequencer:
    """Puts stored messages of each channel back in id order, per node.

    push() takes a message with its channel key, id and prev and returns the messages that may
    go out now, in order; expired() returns those whose wait is over. Holds at most `limit`
    messages in all: past that, the fullest channel's are let go (a gap the clients fill).
    """

    def __init__(self, wait=0.5, limit=1000, channels=10_000):
        self.wait = wait
        self.limit = limit
        self.channels = channels  # channels whose last id is remembered (the least recent forgotten)
        self.last = {}  # channel -> id of the last message handed out (insertion order: least recent first)
        self.passed = {}  # channel -> newest id skipped while no client of this node received the channel
        self.held = {}  # channel -> {prev: (id, message, deadline)}
        self.count = 0
        self.deadlines = []  # heap of (deadline, channel)

    def push(self, channel, message_id, prev, message, now):
        last = self.last.get(channel)
        if last is None:
            last = self.passed.get(channel)  # messages up to it went by: a later prev is on its way
        if last is None or prev is None or prev <= last:
            out = [message]
            self._handed(channel, message_id)
            self._drain(channel, out)
            return out
        waiting = self.held.setdefault(channel, {})
        if prev in waiting:
            if waiting[prev][0] == message_id:
                return []  # the same message again
            return self._release(channel) + [message]  # two messages after one: no chain; let all go
        deadline = now + self.wait
        waiting[prev] = (message_id, message, deadline)
        self.count += 1
        heapq.heappush(self.deadlines, (deadline, channel))
        if self.count > self.limit:
            fullest = max(self.held, key=lambda key: len(self.held[key]))
            return self._release(fullest)
        return []

    def next_deadline(self):
        """When expired() next has something to hand out (None: nothing is held)."""
        while self.deadlines:
            deadline, channel = self.deadlines[0]
            if channel in self.held and any(d == deadline for _, _, d in self.held[channel].values()):
                return deadline
            heapq.heappop(self.deadlines)  # stale: that channel's messages went out meanwhile
        return None

    def expired(self, now):
        out = []
        while self.deadlines and self.deadlines[0][0] <= now:
            _, channel = heapq.heappop(self.deadlines)
            if channel in self.held:
                out.extend(self._release(channel))
        return out

    def seed(self, channel, message_id):
        """A client of this node has the channel's messages up to `message_id` from its history
        read (0: the channel held none), and the node has handed out none of the channel's yet:
        a later message whose predecessor has not come is held for it, as after any message
        handed out. Without it the channel's first live messages went out in arrival order.
        Ignored once the node has handed out or skipped one (it knows better then)."""
        if channel in self.last or channel in self.held or channel in self.passed:
            return
        self._handed(channel, message_id)

    def forget(self, channel):
        """This node stops following the channel (none of its clients receives it any more)."""
        if channel not in self.held:
            self.last.pop(channel, None)

    def skipped(self, channel, message_id):
        """A message of the channel that none of this node's clients receives went by: the node
        stops following the channel and remembers the newest such id (see upto)."""
        self.forget(channel)
        if channel in self.last:
            return  # messages of the channel are held: it is followed, the skip was a race
        previous = self.passed.pop(channel, None)
        self.passed[channel] = message_id if previous is None else max(previous, message_id)
        while len(self.passed) > self.channels:
            del self.passed[next(iter(self.passed))]

    def upto(self, channel):
        """The newest id of the channel that this node's clients have had their chance at: handed
        out (every earlier one handed out or given up on), or gone by while none of them was in
        the channel (every earlier one is stored by then: ids are given in commit order per
        channel). A client that enters the channel now gets every later message live. None: not
        known (a channel not seen since start, or forgotten to stay within `channels`)."""
        last = self.last.get(channel)
        return last if last is not None else self.passed.get(channel)

    def release_all(self):
        """Everything held, in order per channel (the queue connection was lost)."""
        out = []
        for channel in list(self.held):
            out.extend(self._release(channel))
        self.deadlines.clear()
        return out

    def _handed(self, channel, message_id):
        self.passed.pop(channel, None)  # `last` says it now; a stale skip mark could cut history short
        last = self.last.pop(channel, None)
        self.last[channel] = message_id if last is None else max(last, message_id)
        while len(self.last) > self.channels:
            oldest = next(iter(self.last))
            if oldest in self.held:
                break
            del self.last[oldest]

    def _drain(self, channel, out):
        waiting = self.held.get(channel)
        while waiting:
            entry = waiting.pop(self.last[channel], None)
            if entry is None:
                break
            self.count -= 1
            out.append(entry[1])
            self._handed(channel, entry[0])
        if waiting is not None and not waiting:
            del self.held[channel]

    def _release(self, channel):
        """Give up on the channel's gap: its held messages go out in id order."""
        waiting = self.held.pop(channel, {})
        self.count -= len(waiting)
        out = []
        for message_id, message, _ in sorted(waiting.values(), key=lambda entry: entry[0]):
            out.append(message)
            self._handed(channel, message_id)
        return out
