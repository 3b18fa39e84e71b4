// Threads on the page: the thread panel beside the log (full screen on phones) with its own
// composer, and the sidebar's "Threads" list of followed threads with their unread. Replies are
// not shown in the main log (as in Zulip and Slack): the root shows "N replies" and who replied.
// Older replies come a page at a time, from the panel's "load older replies" button or by
// scrolling to the top of the replies. textContent only (formatted text through
// views/message.js's allow-list rebuild).

import { $, button, el } from "../dom.js";
import { OpenThread, ThreadStates } from "../threads.js";
import { fillMessage } from "./message.js";

function newClientId() {
  return `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}

export class Threads {
  constructor(ctx, { showError, openRoom }) {
    this.ctx = ctx;
    this.showError = showError;
    this.openRoom = openRoom;
    this.states = new ThreadStates();
    this.current = null;  // the OpenThread in the panel
    this.panel = $("thread-panel");
    this.list = $("thread-messages");
    this.rootBox = $("thread-root");
    this.input = $("thread-input");
    this.followButton = $("thread-follow");
    this.olderButton = $("thread-older");
    this.olderButton.addEventListener("click", () => this.older());
    this.list.addEventListener("scroll", () => {
      if (this.list.scrollTop < 40 && this.current && this.current.hasMore) this.older();
    }, { passive: true });
    $("thread-close").addEventListener("click", () => this.close());
    $("thread-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
    this.followButton.addEventListener("click", () => this.toggleFollow());
    $("thread-list").addEventListener("click", (event) => {
      const entry = event.target.closest("li[data-thread]");
      if (!entry) return;
      const item = this.states.get(Number(entry.dataset.thread));
      if (item) this.open(item.room, item.id, true);
    });
    document.addEventListener("visibilitychange", () => this.readOpen());
  }

  get socket() {
    return this.ctx.socket;
  }

  // ---- the server's events ----

  connected() {
    this.socket.emit("list_threads", {}, (reply) => {
      if (!reply || !reply.ok) return;
      this.states.load(reply.threads);
      this.renderList();
    });
    if (this.current) this.fetch();
  }

  state(state) {
    if (this.states.apply(state)) this.renderList();
    if (this.current && state && state.id === this.current.id) {
      this.showFollowing(state.following);
      if (state.unread) this.readOpen();
    }
  }

  live(msg) {
    if (this.current && msg.thread_id === this.current.id && this.current.add(msg) !== "skipped") {
      this.renderReplies();
      this.readOpen();
    }
  }

  updated(msg) {
    if (!msg) return;
    if (this.states.root(msg)) this.renderList();
    if (!this.current) return;
    if (msg.id === this.current.id) {
      this.current.root = msg;
      this.renderRoot();
    } else if (msg.thread_id === this.current.id && this.current.add(msg) !== "skipped") {
      this.renderReplies();
    }
  }

  // ---- the panel ----

  open(room, rootId, fromList = false) {
    if (!room || rootId == null) return;
    if (fromList && this.openRoom) this.openRoom(room);
    this.current = new OpenThread(room, rootId);
    this.panel.hidden = false;
    this.panel.dataset.thread = String(rootId);
    document.querySelector(".app").classList.add("thread-open");
    this.rootBox.textContent = "";
    this.list.textContent = "";
    this.olderButton.hidden = true;
    this.loadingOlder = false;
    const known = this.states.get(rootId);
    this.showFollowing(Boolean(known && known.following));
    this.fetch();
    this.input.focus();
  }

  close() {
    this.current = null;
    this.panel.hidden = true;
    delete this.panel.dataset.thread;
    document.querySelector(".app").classList.remove("thread-open");
  }

  fetch() {
    const open = this.current;
    this.socket.emit("get_history", open.request(), (reply) => {
      if (open !== this.current) return;
      if (!reply || !reply.ok) {
        if (reply && reply.error) this.showError(reply.error);
        this.close();
        return;
      }
      open.page(reply);
      this.renderRoot();
      this.renderReplies();
      if (reply.since !== undefined && reply.has_more) this.fetch();
      else this.readOpen();
    });
  }

  // The page before the oldest reply shown; the reader's place stays where it was.
  older() {
    const open = this.current;
    const request = open && open.older();
    if (!request || this.loadingOlder || !this.socket.connected) return;
    this.loadingOlder = true;
    this.socket.emit("get_history", request, (reply) => {
      if (open !== this.current) return;
      this.loadingOlder = false;
      if (!reply || !reply.ok) {
        if (reply && reply.error) this.showError(reply.error);
        return;
      }
      const fromBottom = this.list.scrollHeight - this.list.scrollTop;
      open.page(reply);
      this.renderReplies(false);
      this.list.scrollTop = this.list.scrollHeight - fromBottom;
    });
  }

  line(msg) {
    const item = fillMessage(el("li", { role: "article" }), msg, this.ctx);
    item.querySelectorAll(".actions, .message-menu-button, .thread-summary").forEach((node) => node.remove());
    return item;
  }

  renderRoot() {
    const root = this.current && this.current.root;
    this.rootBox.textContent = "";
    if (root) this.rootBox.append(el("ol", { className: "message-list thread-root-list" }, this.line(root)));
  }

  renderReplies(follow = true) {
    if (!this.current) return;
    const near = follow && this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
    this.list.replaceChildren(...this.current.replies.map((msg) => this.line(msg)));
    this.olderButton.hidden = !this.current.hasMore;
    if (near) this.list.scrollTop = this.list.scrollHeight;
  }

  // The thread is read up to its newest reply while the panel shows it on a visible page.
  readOpen() {
    const open = this.current;
    if (!open || open.lastId === null || document.visibilityState !== "visible" || this.ctx.me.id === null) return;
    const known = this.states.get(open.id);
    if (known && !known.unread && known.last_read_id >= open.lastId) return;
    this.socket.emit("mark_thread_read", { id: open.id, last: open.lastId });
  }

  send() {
    const open = this.current;
    const message = this.input.value;
    if (!open || !message.trim() || !this.socket.connected) return;
    this.input.value = "";
    const payload = { room: open.room, message, reply_to: open.id, client_id: newClientId() };
    this.socket.emit("room_message", payload, (ack) => {
      if (ack && ack.ok) return;
      if (!this.input.value) this.input.value = message;  // nothing is lost
      if (ack && ack.error) this.showError(ack.error);
    });
  }

  showFollowing(following) {
    const { t } = this.ctx;
    this.followButton.setAttribute("aria-pressed", String(following));
    this.followButton.textContent = following ? t.thread_following : t.thread_follow;
  }

  toggleFollow() {
    const open = this.current;
    if (!open) return;
    const follow = this.followButton.getAttribute("aria-pressed") !== "true";
    this.socket.emit("follow_thread", { id: open.id, follow }, (ack) => {
      if (ack && ack.ok) this.showFollowing(ack.follow);
      else if (ack && ack.error) this.showError(ack.error);
    });
  }

  // ---- the sidebar's "Threads" ----

  renderList() {
    const { t } = this.ctx;
    const box = $("thread-list");
    const items = this.states.list();
    box.replaceChildren(...items.map((item) => this.entry(item)));
    if (!items.length) box.append(el("li", { className: "thread-empty", text: t.no_threads }));
    const total = this.states.totalUnread();
    const badge = $("threads-unread");
    badge.textContent = String(total);
    badge.hidden = total === 0;
  }

  entry(item) {
    const { t } = this.ctx;
    const root = item.root || {};
    const excerpt = root.deleted ? t.deleted : (root.text || "").slice(0, 80);
    const who = root.user ? root.user.name : "";
    const label = el("span", { className: "room-name", text: `${item.room} · ${who}: ${excerpt}` });
    const entry = button("room-button thread-button", null, null);
    entry.removeAttribute("aria-label");
    entry.removeAttribute("title");
    entry.append(label);
    if (item.unread) {
      entry.append(el("span", { className: "visually-hidden", text: ", " }));
      entry.append(el("span", { className: "badge", text: t.thread_unread.replace("{count}", String(item.unread)) }));
    }
    if (item.mentions) entry.append(el("span", { className: "mention-badge", text: String(item.mentions) }));
    const li = el("li", { className: "room-entry thread-entry", dataset: { thread: String(item.id) } }, entry);
    if (this.current && this.current.id === item.id) entry.setAttribute("aria-current", "true");
    return li;
  }
}
