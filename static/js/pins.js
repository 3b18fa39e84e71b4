// Pinned messages per room (get_pins, pins_changed), and which notification levels mute a
// room's unread number, and which own message the other person of a DM has seen. Pure: no DOM.

export class PinBoard {
  constructor() {
    this.rooms = new Map();  // room -> [pinned message payloads], newest pin first
  }

  set(room, pins) {
    this.rooms.set(room, Array.isArray(pins) ? pins.filter((p) => p && p.id != null) : []);
  }

  list(room) {
    return this.rooms.get(room) || [];
  }

  has(room, id) {
    return this.list(room).some((p) => p.id === id);
  }

  // A message edited or deleted elsewhere: its pin shows the new text, or goes.
  updated(msg) {
    if (!msg || !msg.room || !this.rooms.has(msg.room)) return false;
    const list = this.list(msg.room);
    const at = list.findIndex((p) => p.id === msg.id);
    if (at === -1) return false;
    if (msg.deleted) list.splice(at, 1);
    else list[at] = { ...list[at], ...msg };
    return true;
  }
}

export const LEVELS = ["all", "mentions", "nothing"];

// A room at "nothing" shows no unread number; its mentions still count.
export function visibleCounts(counts, level) {
  return level === "nothing" ? { unread: 0, mentions: counts.mentions } : counts;
}

// The tab title's count: unread messages of every room but the muted ones.
export function audibleTotal(unread, directory) {
  let sum = 0;
  for (const [room, entry] of unread.rooms) {
    const info = directory.get(room);
    if (!info || info.notify !== "nothing") sum += entry.unread;
  }
  return sum;
}

// The id of the user's own message that carries "seen": the newest one the peer has read.
export function seenMessage(messages, peerReadId, meId) {
  if (peerReadId == null || meId == null) return null;
  let found = null;
  for (const msg of messages) {
    if (msg.id != null && msg.id <= peerReadId && !msg.deleted && msg.user && msg.user.id === meId) {
      if (found === null || msg.id > found) found = msg.id;
    }
  }
  return found;
}
