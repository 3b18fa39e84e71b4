// Pins, notification levels and DM read receipts on the page: the header's 📌 button and its
// list (a click jumps to the message), "Pin"/"Unpin" in the message menu, the room settings'
// notification level, and "seen" (既読) under the last own message the other person read.
// textContent only.

import { $, el, localTime } from "../dom.js";
import { PinBoard, seenMessage } from "../pins.js";

export class PinsView {
  // hooks: {current(), info(room), messages(room), menuFor(), onJump(msg), showError, refresh()}
  constructor(ctx, hooks) {
    this.ctx = ctx;
    this.hooks = hooks;
    this.board = new PinBoard();
    this.seen = new Map();  // DM room -> how far the other person has read
    this.els = {
      button: $("pins-button"), count: $("pins-count"), dialog: $("pins-dialog"), list: $("pins-list"),
      empty: $("pins-empty"), menu: $("message-menu"), level: $("notify-level"), settings: $("room-settings"),
      messages: $("messages"),
    };
    this.els.button.addEventListener("click", () => this.openList());
    this.els.dialog.querySelectorAll("[data-close]").forEach((b) => b.addEventListener("click", () => this.els.dialog.close()));
    this.els.list.addEventListener("click", (event) => {
      const item = event.target.closest("button[data-id]");
      if (!item) return;
      const msg = this.board.list(this.hooks.current()).find((p) => String(p.id) === item.dataset.id);
      this.els.dialog.close();
      if (msg) this.hooks.onJump(msg);
    });
    // The message menu's pin item says what it will do.
    new MutationObserver(() => this.labelMenu()).observe(this.els.menu, { attributes: true, attributeFilter: ["hidden"] });
    this.els.settings.addEventListener("click", () => this.showLevel());
    this.els.level.addEventListener("change", () => this.setLevel(this.els.level.value));
    // The log redraws in many ways: "seen" follows it.
    new MutationObserver(() => this.scheduleSeen()).observe(this.els.messages, { childList: true });
    new MutationObserver(() => this.scheduleSeen()).observe($("dm-list"), { childList: true });  // the directory came
  }

  // ---- pins ----

  opened() {
    this.render();
  }

  // Asked once the join succeeded (chat.js): the room exists and may be read.
  joined(room) {
    if (!room || !this.ctx.socket.connected) return;
    this.ctx.socket.emit("get_pins", { room }, (reply) => {
      if (reply && reply.ok) this.changed(reply);
    });
  }

  changed(update) {
    if (!update || !update.room) return;
    this.board.set(update.room, update.pins);
    if (update.room === this.hooks.current()) this.render();
  }

  updated(msg) {
    if (this.board.updated(msg) && msg.room === this.hooks.current()) this.render();
  }

  render() {
    const room = this.hooks.current();
    const pins = room ? this.board.list(room) : [];
    const { t } = this.ctx;
    this.els.button.hidden = !room;
    this.els.count.textContent = pins.length ? String(pins.length) : "";
    const label = pins.length ? `${t.pins} (${pins.length})` : t.pins;
    this.els.button.setAttribute("aria-label", label);
    this.els.button.title = label;
    this.els.empty.hidden = pins.length > 0;
    this.els.list.replaceChildren(...pins.map((msg) => el("li", {},
      el("button", { type: "button", className: "pin-item", dataset: { id: String(msg.id) } },
        el("span", { className: "pin-author", text: msg.user ? (msg.user.display_name || msg.user.name) : msg.name || "" }),
        el("time", { className: "pin-time", dateTime: msg.ts || "", text: msg.ts ? localTime(msg.ts, this.ctx.lang, true) : "" }),
        el("span", { className: "pin-text", text: msg.text || (msg.file ? msg.file.name : "") })))));
  }

  openList() {
    this.render();
    if (!this.els.dialog.open) this.els.dialog.showModal();
  }

  toggle(id) {
    const room = this.hooks.current();
    const event = this.board.has(room, id) ? "unpin_message" : "pin_message";
    this.ctx.socket.emit(event, { id }, (reply) => {
      if (!reply || !reply.ok) {
        this.hooks.showError(reply && reply.error);
        return;
      }
      this.changed(reply);
    });
  }

  labelMenu() {
    const item = this.els.menu.querySelector('[data-action="pin"]');
    if (!item || this.els.menu.hidden) return;
    const pinned = this.board.has(this.hooks.current(), this.hooks.menuFor());
    item.textContent = `📌 ${pinned ? this.ctx.t.unpin_label : this.ctx.t.pin_label}`;
  }

  // ---- notification levels ----

  showLevel() {
    const info = this.hooks.info(this.hooks.current());
    this.els.level.value = info && info.notify ? info.notify : info && info.kind === "dm" ? "all" : "mentions";
  }

  setLevel(level) {
    const room = this.hooks.current();
    if (!room) return;
    this.ctx.socket.emit("set_notification_level", { room, level }, (reply) => {
      if (!reply || !reply.ok) this.hooks.showError(reply && reply.error);
    });
  }

  // `notification_level` from any of the user's tabs and devices.
  levelChanged(change) {
    const info = this.hooks.info(change.room);
    if (info) info.notify = change.level;
    if (change.room === this.hooks.current()) this.els.level.value = change.level;
    this.hooks.refresh();
  }

  // ---- read receipts ----

  receipt(room, lastReadId, show = true) {
    if (lastReadId > (this.seen.get(room) ?? 0)) this.seen.set(room, lastReadId);
    if (show) this.scheduleSeen();
  }

  scheduleSeen() {
    if (this.seenTimer) return;
    this.seenTimer = setTimeout(() => {
      this.seenTimer = null;
      this.showSeen();
    }, 50);
  }

  showSeen() {
    const room = this.hooks.current();
    const info = this.hooks.info(room);
    const peerRead = info ? Math.max(this.seen.get(room) ?? 0, info.peer_read_id ?? 0) : 0;
    const target = info && info.kind === "dm" && peerRead ? seenMessage(this.hooks.messages(room), peerRead, this.ctx.me.id) : null;
    const marks = this.els.messages.querySelectorAll(".seen-mark");
    const line = target === null ? null : this.els.messages.querySelector(`li.message[data-id="${Number(target)}"]`);
    if (marks.length === 1 && line && marks[0].parentElement === line) return;
    marks.forEach((mark) => mark.remove());
    if (line) line.append(el("span", { className: "seen-mark", text: this.ctx.t.seen }));
  }
}
