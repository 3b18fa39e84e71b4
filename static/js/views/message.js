// One line of the log: avatar, author, time, text (formatted through the allow-list), file,
// reactions, the actions (inline on desktop, a menu on phones). textContent only.

import { avatarFor } from "../avatar.js";
import { humanSize, localUrl, rebuild } from "../format.js";
import { displayName, fill } from "../notices.js";
import { button, domBuilder, el, localTime, parseHtml } from "../dom.js";
import { authorNode, profiles } from "./profile.js";
import { summaryOf } from "../threads.js";

const THUMB_MAX = 320;  // the server's thumbnails fit in this square

export function avatarNode(msg) {
  const a = avatarFor(msg.user, msg.sid);
  const box = el("span", { className: "avatar", "aria-hidden": "true" });
  box.style.background = a.colour;
  if (a.url) box.append(el("img", { src: a.url, alt: a.name, width: 36, height: 36, decoding: "async" }));
  else box.textContent = a.initials;
  return box;
}

export function fileBlock(file, t) {
  const box = el("div", { className: "file" });
  const url = localUrl(file.url);
  if (!url) return box;
  const link = el("a", { href: url, target: "_blank", rel: "noopener noreferrer" });
  const thumb = localUrl(file.thumb_url) || (file.image ? url : null);
  const size = humanSize(file.size);
  if (file.image && thumb) {
    const img = el("img", { alt: file.name, decoding: "async" });
    if (file.width && file.height) {
      const scale = Math.min(1, THUMB_MAX / Math.max(file.width, file.height));
      img.width = Math.max(1, Math.round(file.width * scale));
      img.height = Math.max(1, Math.round(file.height * scale));
    }
    img.src = thumb;
    link.className = "thumb";
    link.title = `${file.name} (${size})`;
    link.setAttribute("aria-label", `${t.open_image}: ${link.title}`);
    link.append(img);
  } else {
    link.className = "download";
    link.download = file.name;
    link.textContent = `📄 ${file.name} (${size})`;
    link.setAttribute("aria-label", `${t.download}: ${file.name} (${size})`);
  }
  box.append(link);
  return box;
}

function reactionChips(msg, ctx) {
  const { t, me } = ctx;
  const box = el("div", { className: "reactions", role: "group", "aria-label": t.reactions });
  for (const r of msg.reactions) {
    const chip = button("chip", fill(t.reaction_chip, { emoji: r.emoji, count: r.count }), `${r.emoji} ${r.count}`);
    chip.dataset.action = "toggle";
    chip.dataset.emoji = r.emoji;
    chip.setAttribute("aria-pressed", String(me.id !== null && r.users.includes(me.id)));
    chip.disabled = me.id === null;
    box.append(chip);
  }
  return box;
}

// Which actions this user has on `msg`.
export function actionsFor(msg, ctx) {
  const { me } = ctx;
  if (msg.id == null || msg.deleted || me.id === null) return [];
  const mine = msg.user && msg.user.id === me.id;
  const list = ["react"];
  if (msg.room) list.push("reply");  // in a thread (views/threads.js)
  if (mine) list.push("edit");
  if (mine || me.admin) list.push("delete");
  if (!mine) list.push("report");
  if (msg.room) list.push("pin");  // pins (views/pins.js)
  return list;
}

const ICONS = { react: "☺", reply: "💬", edit: "✎", delete: "🗑" };
const LABELS = { react: "react_label", reply: "reply_label", edit: "edit_label", delete: "delete_label", report: "report_label" };

function actionButtons(msg, ctx) {
  const box = el("div", { className: "actions", role: "group", "aria-label": ctx.t.message_actions });
  for (const action of actionsFor(msg, ctx)) {
    if (!ICONS[action]) continue;
    const b = button("act", ctx.t[LABELS[action]], ICONS[action]);
    b.dataset.action = action;
    box.append(b);
  }
  return box;
}

export function fillMessage(item, msg, ctx, { grouped = false, mentioned = false } = {}) {
  const { t, lang } = ctx;
  msg = { ...msg, user: profiles.apply(msg.user) };  // user_updated's newest display name and avatar
  item.className = `message ${msg.room ? "room" : "global"}`;
  if (grouped) item.classList.add("grouped");
  if (mentioned) item.classList.add("mentioned");
  item.textContent = "";
  const text = el("span", { className: "text" });
  if (msg.deleted) {
    item.classList.add("deleted");
    text.textContent = t.deleted;
  } else if (msg.html) {
    text.dataset.format = "html";
    rebuild(parseHtml(msg.html), text, domBuilder);
  } else {
    text.textContent = msg.text;
  }
  const meta = el("span", { className: "meta" }, authorNode(msg.user, displayName(msg.user, msg.sid)));
  if (msg.ts) meta.append(el("time", { className: "time", dateTime: msg.ts, text: localTime(msg.ts, lang) }));
  if (msg.edited_at && !msg.deleted) {
    meta.append(el("span", { className: "edited", text: `(${t.edited})`, title: fill(t.edited_at, { time: localTime(msg.edited_at, lang, true) }) }));
  }
  const body = el("div", { className: "body" }, meta, text);
  if (msg.file && !msg.deleted) body.append(fileBlock(msg.file, t));
  if (msg.reactions && msg.reactions.length && !msg.deleted) body.append(reactionChips(msg, ctx));
  const summary = summaryOf(msg, t);  // a thread's root: "N replies" and who replied
  if (summary && msg.id != null) {
    const open = button("thread-summary", null, null, { dataset: { action: "thread" } });
    open.append(
      el("span", { className: "thread-count", text: summary.count }),
      el("span", { className: "visually-hidden", text: ", " }),
      el("span", { className: "thread-names", text: summary.names }),
    );
    body.append(open);
  }
  item.append(avatarNode(msg), body);
  if (msg.user && msg.user.id != null) item.dataset.user = String(msg.user.id);  // user_updated redraws
  if (msg.id != null) {
    item.dataset.id = String(msg.id);
    item.tabIndex = -1;  // a search hit is focused when brought into view
    if (actionsFor(msg, ctx).length) {
      item.append(actionButtons(msg, ctx));
      const more = button("message-menu-button", t.message_actions, "⋯", { "aria-haspopup": "menu", "aria-expanded": "false" });
      more.dataset.action = "menu";
      item.append(more);
    }
  }
  return item;
}

// A line of one's own that waits for the server (or an upload in progress).
export function pendingLine(text, ctx, room, state) {
  const item = el("li", { role: "article" });
  fillMessage(item, { text, user: ctx.me, room, ts: new Date().toISOString() }, ctx);
  item.classList.add("pending");
  item.querySelector(".body").append(el("span", { className: "state", text: state }));
  return item;
}
