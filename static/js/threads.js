// Threads' state on the page: the followed threads with their unread (as the server counts them,
// so every tab and device agrees) and the open thread's replies in id order. Pure: no DOM.

export function isReply(msg) {
  return Boolean(msg) && msg.thread_id !== undefined && msg.thread_id !== null;
}

// "N replies" and who replied, from a root's `thread` summary (null when it has none).
export function summaryOf(msg, t) {
  const thread = msg && msg.thread;
  if (!thread || !thread.replies) return null;
  const count = (thread.replies === 1 ? t.thread_reply_one : t.thread_replies).replace("{count}", String(thread.replies));
  const names = (thread.participants || []).map((p) => p.name).filter(Boolean);
  return { count, names: names.join(", ") };
}

export class ThreadStates {
  constructor() {
    this.threads = new Map();  // root id -> {id, room, following, unread, mentions, last_read_id, root}
  }

  // list_threads' answer: the followed threads, newest reply first.
  load(list) {
    this.threads.clear();
    for (const item of list || []) this.threads.set(item.id, { ...item });
  }

  // A thread_state from the server; returns true when the list changed.
  apply(state) {
    if (!state || state.id == null) return false;
    const known = this.threads.get(state.id);
    if (!state.following) return this.threads.delete(state.id);
    this.threads.set(state.id, { ...(known || {}), ...state });
    return true;
  }

  // A root's new payload (message_updated): kept for the list's excerpt and summary.
  root(msg) {
    const known = msg && this.threads.get(msg.id);
    if (!known) return false;
    known.root = msg;
    return true;
  }

  get(id) {
    return this.threads.get(id) || null;
  }

  list() {
    const when = (item) => (item.root && ((item.root.thread && item.root.thread.last_reply_at) || item.root.ts)) || "";
    return [...this.threads.values()].sort((a, b) => (when(b) > when(a) ? 1 : when(b) < when(a) ? -1 : b.id - a.id));
  }

  totalUnread() {
    let total = 0;
    for (const item of this.threads.values()) total += item.unread || 0;
    return total;
  }
}

// One open thread: its root and replies by id, deduplicated; lastId for catch-up.
export class OpenThread {
  constructor(room, rootId) {
    this.room = room;
    this.id = rootId;
    this.root = null;
    this.replies = [];
    this.lastId = null;
    this.hasMore = false;
  }

  add(msg) {
    if (!msg || msg.id == null || msg.thread_id !== this.id) return "skipped";
    if (this.lastId === null || msg.id > this.lastId) this.lastId = msg.id;
    const at = this.replies.findIndex((m) => m.id >= msg.id);
    if (at >= 0 && this.replies[at].id === msg.id) {
      this.replies[at] = msg;
      return "updated";
    }
    if (at < 0) this.replies.push(msg);
    else this.replies.splice(at, 0, msg);
    return "added";
  }

  page(reply) {
    if (!reply || reply.thread !== this.id) return;
    if (reply.root) this.root = reply.root;
    if (reply.since === undefined) this.hasMore = Boolean(reply.has_more);
    for (const msg of reply.messages || []) this.add(msg);
  }

  // The get_history request for the page (of the server's size) before the oldest reply shown
  // (null: none left).
  older() {
    if (!this.hasMore || !this.replies.length) return null;
    return { room: this.room, thread: this.id, before: this.replies[0].id };
  }

  // The get_history request that fetches what this thread missed (or its newest page).
  request() {
    const request = { room: this.room, thread: this.id };
    if (this.lastId !== null) request.since = this.lastId;
    return request;
  }
}
