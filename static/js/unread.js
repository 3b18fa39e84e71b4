// Unread awareness: unread and mention counts per room, the last read id, where the "new
// messages" line goes, the tab title's count and the favicon's dot. Pure: no DOM.

export class Unread {
  constructor(me) {
    this.me = me;            // the user's id (null: a client without a session)
    this.rooms = new Map();  // room -> {unread, mentions, lastReadId}
  }

  room(name) {
    if (!this.rooms.has(name)) this.rooms.set(name, { unread: 0, mentions: 0, lastReadId: null });
    return this.rooms.get(name);
  }

  // The directory (list_rooms) is the truth: counts from the server.
  fromDirectory(rooms) {
    const seen = new Set();
    for (const info of rooms) {
      seen.add(info.name);
      const entry = this.room(info.name);
      entry.unread = info.unread || 0;
      entry.mentions = info.mentions || 0;
      const server = info.last_read_id ?? null;
      if (server !== null && (entry.lastReadId === null || server > entry.lastReadId)) entry.lastReadId = server;
    }
    for (const name of Array.from(this.rooms.keys())) if (!seen.has(name)) this.rooms.delete(name);
  }

  // A live message. `reading`: its room is open and the page visible (it is read at once).
  // Returns true when the counts changed.
  message(msg, { reading = false } = {}) {
    if (!msg || msg.id == null || !msg.room || msg.type) return false;
    if (this.me !== null && msg.user && msg.user.id === this.me) return false;
    const entry = this.room(msg.room);
    if (entry.lastReadId !== null && msg.id <= entry.lastReadId) return false;
    if (reading) return false;
    entry.unread += 1;
    if (mentions(msg, this.me)) entry.mentions += 1;
    return true;
  }

  // Read up to `id` (the server's `read` event, or our own mark_read).
  read(room, id) {
    const entry = this.room(room);
    if (id != null && (entry.lastReadId === null || id > entry.lastReadId)) entry.lastReadId = id;
    const changed = entry.unread !== 0 || entry.mentions !== 0;
    entry.unread = 0;
    entry.mentions = 0;
    return changed;
  }

  counts(room) {
    const entry = this.rooms.get(room);
    return entry ? { unread: entry.unread, mentions: entry.mentions } : { unread: 0, mentions: 0 };
  }

  total() {
    let sum = 0;
    for (const entry of this.rooms.values()) sum += entry.unread;
    return sum;
  }

  anyMentions() {
    for (const entry of this.rooms.values()) if (entry.mentions > 0) return true;
    return false;
  }

  // The favicon: a dot while mentions are unread.
  favicon() {
    return this.anyMentions() ? "dot" : "plain";
  }
}

// The tab title: "(3) Chat" while 3 messages are unread.
export function title(base, total) {
  return total > 0 ? `(${total}) ${base}` : base;
}

// Whether `msg` mentions the user: live messages list ids; history's are matched by @name.
const MENTION = /@([^\s@]{1,32})/gu;
export function mentions(msg, meId, meName) {
  if (meId == null || !msg) return false;
  if (Array.isArray(msg.mentions)) return msg.mentions.includes(meId);
  if (!meName) return false;
  const name = String(meName).trim().toLowerCase();
  return Array.from(String(msg.text || "").matchAll(MENTION), (m) => m[1].toLowerCase()).includes(name);
}

// The id of the first message after `lastReadId` from someone else: the "new messages" line
// goes before it. null when there is none (or nothing was read yet).
export function newMessagesLine(messages, lastReadId, meId) {
  if (lastReadId == null) return null;
  for (const msg of messages) {
    if (msg.id > lastReadId && !(meId != null && msg.user && msg.user.id === meId)) return msg.id;
  }
  return null;
}

// The room after (dir 1) or before (dir -1) `current` in `order`; with `unreadOnly`, the next
// one that has unread messages (wrapping around), or null.
export function step(order, current, dir, unread = null) {
  if (!order.length) return null;
  const at = order.indexOf(current);
  const start = at === -1 ? (dir > 0 ? -1 : order.length) : at;
  for (let n = 1; n <= order.length; n += 1) {
    const candidate = order[(((start + dir * n) % order.length) + order.length) % order.length];
    if (!unread) return candidate === current ? null : candidate;
    if (candidate !== current && unread.counts(candidate).unread > 0) return candidate;
  }
  return null;
}
