// The sidebar: "Everyone", rooms and direct conversations with unread and mention badges, and
// the people online with a DM action. textContent only.

import { $, el } from "../dom.js";
import { fill } from "../notices.js";
import { personNode } from "./profile.js";
import { visibleCounts } from "../pins.js";

export function roomLabel(info) {
  return info.kind === "dm" && info.peer ? `@${info.peer.name}` : info.name;
}

export class Sidebar {
  constructor(ctx, { onOpen, onDm }) {
    this.ctx = ctx;
    this.els = { rooms: $("room-list"), dms: $("dm-list"), online: $("online-list"), count: $("online-count"), everyone: $("everyone-entry") };
    this.onOpen = onOpen;
    this.onDm = onDm;
    this.els.everyone.querySelector("button").addEventListener("click", () => onOpen(""));
    for (const list of [this.els.rooms, this.els.dms]) {
      list.addEventListener("click", (event) => {
        const entry = event.target.closest("li.room-entry");
        if (entry) onOpen(entry.dataset.room);
      });
    }
    this.els.online.addEventListener("click", (event) => {
      const dm = event.target.closest("button[data-user]");
      if (dm) onDm(dm.dataset.user);
    });
  }

  // The button's accessible name is its text: "NAME, 2 メンバー · 1 オンライン, 3 未読, 1 メンション"
  // (decorations and badges hidden from it, the separators and words hidden from the eye).
  entry(info, current, counts) {
    const { t } = this.ctx;
    const label = roomLabel(info);
    const hidden = (text) => el("span", { className: "inline-hidden", text });
    const item = el("li", { className: "room-entry", dataset: { room: info.name } });
    const b = el("button", { type: "button", className: "room-button" });
    if (info.name === current) b.setAttribute("aria-current", "true");
    const lock = info.private && info.kind !== "dm" ? " 🔒" : "";
    const name = el("span", { className: "room-name" }, info.kind === "dm" ? "" : el("span", { text: "# ", "aria-hidden": "true" }),
      label, lock ? el("span", { text: lock, "aria-hidden": "true" }) : "");
    // One inline run of text (flex items or blocks would add spaces to the name).
    const text = el("span", { className: "room-text" }, name);
    b.append(text);
    let tail = text;  // where the hidden unread and mention words go
    if (info.kind !== "dm") {
      const members = `${info.members} ${info.members === 1 ? t.member_one : t.members} · ${info.online} ${t.online_count}`;
      tail = el("span", { className: "counts", text: members });
      text.append(hidden(", "), tail);
    }
    if (counts.unread) {
      b.classList.add("has-unread");
      tail.append(hidden(`, ${counts.unread} ${t.unread}`));
      b.append(el("span", { className: "badge", text: String(counts.unread), "aria-hidden": "true" }));
    }
    if (counts.mentions) {
      tail.append(hidden(`, ${counts.mentions} ${t.mentions}`));
      b.append(el("span", { className: "mention-badge", text: String(counts.mentions), "aria-hidden": "true" }));  // "@" by CSS
    }
    item.append(b);
    return item;
  }

  // Redraws the lists, keeping the focus on the entry that had it.
  render(directory, current, unread) {
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#sidebar li.room-entry");
    const focusedRoom = focused ? focused.dataset.room : null;
    const rooms = [];
    const dms = [];
    for (const info of directory.values()) (info.kind === "dm" ? dms : rooms).push(this.entry(info, current, visibleCounts(unread.counts(info.name), info.notify)));
    this.els.rooms.replaceChildren(...rooms);
    this.els.dms.replaceChildren(...dms);
    const everyone = this.els.everyone.querySelector("button");
    if (current === "") everyone.setAttribute("aria-current", "true");
    else everyone.removeAttribute("aria-current");
    if (focusedRoom !== null) {
      const again = Array.from(document.querySelectorAll("#sidebar li.room-entry")).find((li) => li.dataset.room === focusedRoom);
      if (again) again.querySelector("button").focus();
    }
  }

  // The order Alt+↑/↓ walks: everyone, rooms, then conversations.
  order(directory) {
    const rooms = [];
    const dms = [];
    for (const info of directory.values()) (info.kind === "dm" ? dms : rooms).push(info.name);
    return ["", ...rooms, ...dms];
  }

  online(users) {
    const { t, me } = this.ctx;
    this.els.count.textContent = String(users.length);
    this.els.online.replaceChildren(...users.map((user) => {
      const who = personNode(user, t);  // avatar, display name, status; opens the profile card
      const item = el("li", {}, who);
      if (me.id !== null && user.id !== me.id) {
        item.append(el("button", {
          type: "button", className: "button small secondary", text: "DM",
          "aria-label": fill(t.dm_with, { name: user.name }), dataset: { user: user.name },
        }));
      }
      return item;
    }));
  }
}
