// The message store: each conversation's messages ordered by id and deduplicated, own messages
// pending until acked (resent with the same client_id), the since-catch-up bookkeeping, and a
// bounded window. Pure: no DOM, importable in node.

export const WINDOW = 300;

function byId(a, b) {
  return a.id - b.id;
}

// Where `id` goes in `list` (sorted by id): the index of the first message with a larger id.
function insertionPoint(list, id) {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// What a re-render would change: a repeated payload that says the same changes nothing.
export function signature(msg) {
  return JSON.stringify([
    msg.text, msg.html, msg.edited_at, msg.deleted, msg.reactions, msg.file && msg.file.id, msg.thread,
  ]);
}

export class Conversation {
  constructor(key, { limit = WINDOW } = {}) {
    this.key = key;          // "" for messages to everyone, else the room's name
    this.limit = limit;
    this.messages = [];      // stored messages in the window, by id
    this.index = new Map();  // id -> message
    this.pending = new Map(); // client_id -> {event, payload, msg, failed}
    this.lastId = null;      // the newest id ever seen here: `since` after a reconnect
    this.oldestId = null;    // the oldest id in the window: `before` when paging back
    this.hasMore = false;    // older messages exist before the window
    this.atLatest = true;    // the window ends at the newest message
    this.loaded = false;     // a first page arrived
  }

  has(id) {
    return this.index.has(id);
  }

  get(id) {
    return this.index.get(id);
  }

  // A live message whose `prev` is newer than the newest we have: one did not arrive.
  gap(msg) {
    return msg.prev != null && this.lastId !== null && msg.prev > this.lastId;
  }

  // Adds or replaces a stored message. Returns "added", "updated", "same" or "skipped" (a live
  // message while the window shows older ones: it is fetched when the reader comes back).
  add(msg) {
    if (msg == null || msg.id == null) return "skipped";
    if (this.lastId === null || msg.id > this.lastId) {
      const newer = this.lastId !== null && msg.id > this.lastId;
      this.lastId = msg.id;
      if (newer && !this.atLatest) return "skipped";
    }
    if (msg.thread_id != null) return "skipped";  // a reply: shown in its thread (threads.js), not here
    this.settle(msg);
    const known = this.index.get(msg.id);
    if (known) {
      if (signature(known) === signature(msg)) {
        this.replace(msg);
        return "same";
      }
      this.replace(msg);
      return "updated";
    }
    this.messages.splice(insertionPoint(this.messages, msg.id), 0, msg);
    this.index.set(msg.id, msg);
    this.bounds();
    return "added";
  }

  replace(msg) {
    const at = insertionPoint(this.messages, msg.id);
    if (this.messages[at] && this.messages[at].id === msg.id) this.messages[at] = msg;
    this.index.set(msg.id, msg);
  }

  // An edit, a deletion or reactions (message_updated): applied by id if it is in the window.
  update(msg) {
    if (!msg || msg.id == null || !this.index.has(msg.id)) return false;
    if (signature(this.index.get(msg.id)) === signature(msg)) return false;
    this.replace(msg);
    return true;
  }

  bounds() {
    this.oldestId = this.messages.length ? this.messages[0].id : this.oldestId;
  }

  // A page of history. `older`: it precedes the window (a scroll back); otherwise it is the
  // newest page (a join) or what came since the last id. Returns the ids added.
  page(reply, { older = false } = {}) {
    const added = [];
    for (const msg of (reply && reply.messages) || []) {
      const wasLatest = this.atLatest;
      if (older) this.atLatest = true;  // an older page is never "live news": do not skip it
      const outcome = this.add(msg);
      this.atLatest = wasLatest;
      if (outcome === "added") added.push(msg.id);
    }
    if (older || reply.since === undefined) {
      if (older || !this.loaded) this.hasMore = Boolean(reply.has_more);
    }
    this.loaded = true;
    return added;
  }

  // Keeps the window at `limit` messages. `keep`: "newest" drops the oldest (reading the end),
  // "oldest" drops the newest (reading back). Returns the ids dropped.
  trim(keep = "newest") {
    const extra = this.messages.length - this.limit;
    if (extra <= 0) return [];
    const dropped = keep === "newest" ? this.messages.splice(0, extra) : this.messages.splice(this.limit);
    dropped.forEach((msg) => this.index.delete(msg.id));
    if (keep === "newest") this.hasMore = true;
    else this.atLatest = false;
    this.bounds();
    return dropped.map((msg) => msg.id);
  }

  // ---- own messages: pending until acked ----

  addPending(entry) {
    this.pending.set(entry.payload.client_id, { ...entry, failed: false });
    return this.pending.get(entry.payload.client_id);
  }

  // The stored copy of a pending message arrived (its echo or a history page): settled.
  settle(msg) {
    if (msg.client_id && this.pending.has(msg.client_id)) {
      this.pending.delete(msg.client_id);
      return true;
    }
    return false;
  }

  // The server stored it (ack {ok, id}): returns the entry, or null when its echo came first.
  ack(clientId, id) {
    const entry = this.pending.get(clientId);
    if (!entry) return null;
    this.pending.delete(clientId);
    return { ...entry, id };
  }

  fail(clientId) {
    const entry = this.pending.get(clientId);
    if (!entry) return null;
    this.pending.delete(clientId);
    return { ...entry, failed: true };
  }

  // What to send again after a reconnect, in send order (same client_id: stored once).
  unacked() {
    return Array.from(this.pending.values()).filter((entry) => !entry.failed);
  }

  // The request that catches up after a reconnect, or the first page.
  catchUp() {
    const request = this.key ? { room: this.key } : {};
    if (this.lastId !== null) request.since = this.lastId;
    return request;
  }

  // The request for the page before the window.
  older(limit = 50) {
    if (!this.hasMore || this.oldestId === null) return null;
    const request = { before: this.oldestId, limit };
    if (this.key) request.room = this.key;
    return request;
  }

  // Back to the newest: forget the window (the newest page is loaded again).
  reset() {
    this.messages = [];
    this.index.clear();
    this.oldestId = null;
    this.hasMore = false;
    this.atLatest = true;
    this.loaded = false;
  }

  // The newest own message in the window (↑ in an empty composer edits it).
  lastOwn(userId) {
    if (userId == null) return null;
    for (let i = this.messages.length - 1; i >= 0; i -= 1) {
      const msg = this.messages[i];
      if (!msg.deleted && msg.user && msg.user.id === userId) return msg;
    }
    return null;
  }
}

export class Store {
  constructor({ limit = WINDOW } = {}) {
    this.limit = limit;
    this.conversations = new Map();
  }

  get(key) {
    const name = key || "";
    if (!this.conversations.has(name)) this.conversations.set(name, new Conversation(name, { limit: this.limit }));
    return this.conversations.get(name);
  }

  drop(key) {
    this.conversations.delete(key || "");
  }
}

export { byId };
