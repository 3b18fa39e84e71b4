// The conversation's log: a bounded window of lines anchored at the newest, day separators,
// groups, the "new messages" line, notices, pending lines, "jump to latest", and older pages
// as the reader scrolls up. New lines are announced (role=log); history goes in while
// aria-busy, so it is not read out.

import { continues, dayKey, dayLabel } from "../days.js";
import { mentions } from "../unread.js";
import { el } from "../dom.js";
import { fillMessage } from "./message.js";

const NEAR = 80;  // px from the bottom that still counts as "at the newest"

export class LogView {
  constructor(list, jump, ctx, { onOlder, onLatest, onReadBottom }) {
    this.list = list;
    this.jump = jump;
    this.ctx = ctx;
    this.conversation = null;
    this.notices = [];        // [{afterId, text, kind}] of this visit
    this.lineId = null;       // the first unread message: the "new messages" line goes before it
    this.onOlder = onOlder;
    this.onLatest = onLatest;
    this.onReadBottom = onReadBottom;
    this.pinned = true;       // the reader is at the newest: keep it in view whatever resizes
    this.lastTop = 0;         // scrollTop where the log last was: a smaller one is the reader going up
    list.addEventListener("scroll", () => this.scrolled(), { passive: true });
    jump.addEventListener("click", () => this.jumpLatest());
    // A reader at the newest stays there whatever changes the log's height or its content's:
    // - the page around it: the header (a room's members and topic come with the directory),
    //   banners, errors, the typing line, the composer. Any change to the page is seen at once
    //   (a microtask, before any other task reads the log), not only at the next frame;
    // - lines inserted, re-rendered in place (an edit, reactions, a new name), or growing with no
    //   change to the page (pictures and fonts loading, a wrap): each line is observed, the log's
    //   box alone does not change when its content does.
    const follow = () => this.follow();
    this.lines = typeof ResizeObserver === "function" ? new ResizeObserver(follow) : null;
    if (this.lines) this.lines.observe(list);
    if (typeof MutationObserver === "function") {
      const page = list.ownerDocument.documentElement;
      new MutationObserver((records) => {
        this.observeLines(records);
        follow();
      }).observe(page, { childList: true, subtree: true, characterData: true, attributes: true });
    }
    list.addEventListener("load", follow, true);  // an image's box once it has loaded
  }

  // The lines the ResizeObserver watches: those in the log.
  observeLines(records) {
    if (!this.lines) return;
    for (const record of records) {
      if (record.target !== this.list || record.type !== "childList") continue;
      for (const node of record.removedNodes) if (node.nodeType === 1) this.lines.unobserve(node);
      for (const node of record.addedNodes) {
        if (node.nodeType === 1 && node.parentNode === this.list) this.lines.observe(node, { box: "border-box" });  // padding too
      }
    }
  }

  // Something changed size: a pinned log goes back to the bottom, unless the reader has just
  // scrolled up (its scroll event is not dispatched yet).
  follow() {
    if (!this.pinned) return;
    if (this.list.scrollTop < this.lastTop && !this.nearBottom()) {
      this.pinned = false;
      return;
    }
    this.toBottom();
  }

  nearBottom() {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < NEAR;
  }

  // Only the reader unpins the log, by going up away from the newest: a scroll event of our own
  // (toBottom, a render) or of layout (content that grew before the event was dispatched) does
  // not, and a pinned log that is no longer at the bottom goes back there.
  scrolled() {
    const c = this.conversation;
    if (!c) return;
    const top = this.list.scrollTop;
    const up = top < this.lastTop;
    this.lastTop = top;
    if (top < 200 && c.hasMore) this.onOlder();
    let bottom = this.nearBottom();
    if (!c.atLatest) this.pinned = false;  // the window does not reach the newest
    else if (bottom) this.pinned = true;
    else if (up) this.pinned = false;
    else if (this.pinned) {
      this.toBottom();
      bottom = true;
    }
    this.jump.hidden = bottom && c.atLatest;
    if (bottom && !c.atLatest) this.onLatest();
    if (bottom) this.onReadBottom();
  }

  jumpLatest() {
    if (this.conversation && !this.conversation.atLatest) {
      this.onLatest();
      return;
    }
    this.toBottom();
    this.jump.hidden = true;
  }

  toBottom() {
    this.list.scrollTop = this.list.scrollHeight;
    this.lastTop = this.list.scrollTop;
  }

  // A new visit to a conversation: empty until its history arrives.
  open(conversation, lineAfter) {
    this.conversation = conversation;
    this.pinned = true;
    this.lastTop = 0;
    this.notices = [];
    this.lastRead = lineAfter;
    this.lineId = null;
    this.list.textContent = "";
    this.jump.hidden = true;
  }

  isMentioned(msg) {
    return Boolean(msg.room) && mentions(msg, this.ctx.me.id, this.ctx.me.name);
  }

  line(msg, grouped) {
    return fillMessage(el("li", { role: "article" }), msg, this.ctx, { grouped, mentioned: this.isMentioned(msg) });
  }

  separator(day) {
    return el("li", { className: "day-separator", role: "none", dataset: { day }, text: dayLabel(day, { lang: this.ctx.lang, strings: this.ctx.t }) });
  }

  newLine() {
    return el("li", { className: "new-messages-line", role: "none", text: this.ctx.t.new_messages });
  }

  notice(entry) {
    return el("li", { className: `notice ${entry.kind || ""}`.trim(), role: "none", text: entry.text });
  }

  // Everything again from the window (a page of history, a catch-up): while aria-busy, keeping
  // the reader's place ("bottom": at the newest; "anchor": the line on top stays where it is).
  render(mode = "bottom") {
    const c = this.conversation;
    if (!c) return;
    const anchor = mode === "anchor" ? this.topLine() : null;
    const focusedId = document.activeElement && this.list.contains(document.activeElement)
      ? document.activeElement.closest("li[data-id]")?.dataset.id : null;
    if (this.lineId === null && this.lastRead != null) {
      const first = c.messages.find((m) => m.id > this.lastRead && !(m.user && m.user.id === this.ctx.me.id && this.ctx.me.id !== null));
      if (first) this.lineId = first.id;
    }
    this.list.setAttribute("aria-busy", "true");
    const keep = Array.from(this.list.querySelectorAll("li.pending"));
    const fragment = document.createDocumentFragment();
    let previous = null;
    const notices = this.notices.slice();
    const flushNotices = (upTo) => {
      while (notices.length && (upTo === Infinity || (notices[0].afterId ?? -1) < upTo)) fragment.append(this.notice(notices.shift()));
    };
    for (const msg of c.messages) {
      flushNotices(msg.id);
      const day = dayKey(msg.ts);
      if (!previous || dayKey(previous.ts) !== day) fragment.append(this.separator(day));
      if (msg.id === this.lineId) fragment.append(this.newLine());
      fragment.append(this.line(msg, msg.id !== this.lineId && continues(previous, msg)));
      previous = msg;
    }
    flushNotices(Infinity);
    this.list.textContent = "";
    this.list.append(fragment, ...keep);
    if (anchor) {
      this.pinned = false;  // older pages or a found message: the reader is away from the newest
      const again = this.list.querySelector(`li[data-id="${anchor.id}"]`);
      if (again) this.list.scrollTop += again.offsetTop - anchor.top;
    } else if (mode === "bottom") {
      this.pinned = true;
      this.toBottom();
    }
    if (focusedId) this.list.querySelector(`li[data-id="${focusedId}"]`)?.focus({ preventScroll: true });
    requestAnimationFrame(() => this.list.removeAttribute("aria-busy"));
    this.jump.hidden = this.nearBottom() && c.atLatest;
    this.lastTop = this.list.scrollTop;  // where the render left the log: not the reader's move
  }

  topLine() {
    const top = this.list.scrollTop;
    for (const li of this.list.querySelectorAll("li[data-id]")) {
      if (li.offsetTop + li.offsetHeight > top) return { id: li.dataset.id, top: li.offsetTop };
    }
    return null;
  }

  lineOf(id) {
    return this.list.querySelector(`li[data-id="${Number(id)}"]`);
  }

  // The day separator `msg` needs before `node` when it starts a day in the log.
  separatorFor(msg, previous, node) {
    const day = dayKey(msg.ts);
    if (previous && dayKey(previous.ts) === day) return;
    if (this.list.querySelector(`li.day-separator[data-day="${day}"]`)) return;
    this.list.insertBefore(this.separator(day), node);
  }

  neighbours(msg) {
    const at = this.conversation.messages.findIndex((m) => m.id === msg.id);
    const previous = at > 0 ? this.conversation.messages[at - 1] : null;
    const later = Array.from(this.list.querySelectorAll("li[data-id]")).find((li) => Number(li.dataset.id) > msg.id);
    return { previous, later };
  }

  // A live message at its place by id (above pending lines), announced.
  insert(msg) {
    const wasNear = this.nearBottom();
    const { previous, later } = this.neighbours(msg);
    const line = this.line(msg, continues(previous, msg));
    const before = later || this.list.querySelector("li.pending");
    this.list.insertBefore(line, before);
    this.separatorFor(msg, previous, line);
    if (wasNear) this.toBottom();
    else this.jump.hidden = false;
  }

  // An own pending line became a stored one: it takes its place by id.
  settle(item, msg) {
    item.remove();
    const { previous, later } = this.neighbours(msg);
    fillMessage(item, msg, this.ctx, { grouped: continues(previous, msg), mentioned: this.isMentioned(msg) });
    this.list.insertBefore(item, later || this.list.querySelector("li.pending"));
    this.separatorFor(msg, previous, item);
  }

  // An edit, deletion or reactions: the line re-rendered in place, the focus kept.
  update(msg) {
    const item = this.lineOf(msg.id);
    if (!item) return;
    if (item.querySelector(".editor")) {
      item.latest = msg;  // applied when the editor closes
      return;
    }
    const focused = item.contains(document.activeElement) ? document.activeElement : null;
    const where = focused && focused !== item ? { action: focused.dataset.action, emoji: focused.dataset.emoji } : null;
    const keep = ["grouped", "highlight"].filter((name) => item.classList.contains(name));
    fillMessage(item, msg, this.ctx, { mentioned: this.isMentioned(msg) });
    keep.forEach((name) => item.classList.add(name));
    if (focused === item) item.focus({ preventScroll: true });
    if (!where || !where.action) return;
    const again = Array.from(item.querySelectorAll("button[data-action]"))
      .find((b) => b.dataset.action === where.action && b.dataset.emoji === where.emoji);
    (again || item).focus({ preventScroll: true });
  }

  // Lines dropped from the window (it stays bounded).
  remove(ids) {
    for (const id of ids) this.lineOf(id)?.remove();
    while (this.list.firstElementChild && !this.list.firstElementChild.dataset.id) {
      const first = this.list.firstElementChild;
      if (first.classList.contains("pending")) break;
      first.remove();
    }
    const first = this.list.querySelector("li[data-id]");
    const msg = first && this.conversation.get(Number(first.dataset.id));
    if (msg) {
      this.list.insertBefore(this.separator(dayKey(msg.ts)), first);
      first.classList.remove("grouped");
    }
  }

  addNotice(text, kind) {
    const entry = { afterId: this.conversation ? this.conversation.lastId : null, text, kind };
    this.notices.push(entry);
    const wasNear = this.nearBottom();
    this.list.insertBefore(this.notice(entry), this.list.querySelector("li.pending"));
    if (wasNear) this.toBottom();
  }

  append(item) {
    this.list.append(item);
    this.toBottom();
  }
}
