// Profiles in the page: authors and people as buttons that open a profile card (<dialog>: name,
// display name, status, local time in their zone, a "message" button opening a DM), the online
// list's people (avatar, display name, status), and `user_updated` redrawing what is on screen.
// textContent only; pictures from /avatars/ only.

import { avatarFor } from "../avatar.js";
import { $, el } from "../dom.js";
import { fill } from "../notices.js";
import { cardId, personLabel, profiles, timeIn } from "../profiles.js";

export { profiles };

// A small avatar: the picture (sized, with its alt) when there is one, else the initials.
export function avatarBox(user, className = "avatar", side = 36) {
  const a = avatarFor(user, null);
  const box = el("span", { className, "aria-hidden": "true" });
  box.style.background = a.colour;
  if (a.url) box.append(el("img", { src: a.url, alt: a.name, width: side, height: side, decoding: "async" }));
  else box.textContent = a.initials;
  return box;
}

// A message's author (span.author, its text); inside a button opening the profile card when the
// author has an account, the login name as its tooltip.
export function authorNode(user, text) {
  if (!user || user.id == null) return el("span", { className: "author", text });
  const { secondary } = personLabel(user);
  const author = el("span", { className: "author", text, title: secondary ? `@${secondary}` : null });
  return el("button", { type: "button", className: "author-link", dataset: { profile: String(user.id) } }, author);
}

// One person of the online list: avatar, display name (login name as a tooltip), away, status.
export function personNode(user, t) {
  const shown = profiles.apply(user);
  const { primary, secondary } = personLabel(shown);
  const away = user.status === "away";
  const person = el("button", {
    type: "button", className: "person", dataset: { profile: String(user.id) },
    title: secondary ? `@${secondary}` : null,
  },
  avatarBox(shown, "avatar mini", 20),
  el("span", { className: `dot${away ? " away" : ""}`, "aria-hidden": "true" }),
  el("span", { className: "person-name", text: primary + (away ? ` (${t.away})` : "") }));
  const status = profiles.statusOf(user.id, user.status_text);
  if (status) person.append(el("span", { className: "person-status", text: status }));
  return person;
}

export class ProfileCard {
  constructor(ctx, { onDm, onChanged }) {
    this.ctx = ctx;
    this.onDm = onDm;
    this.onChanged = onChanged;
    this.userId = null;
    this.user = null;
    const { t } = ctx;
    this.dialog = el("dialog", { id: "profile-dialog", className: "dialog profile-card", "aria-labelledby": "profile-title" });
    this.els = {
      avatar: el("div", { className: "profile-avatar" }),
      title: el("h2", { id: "profile-title" }),
      login: el("p", { id: "profile-login", className: "muted" }),
      status: el("p", { id: "profile-status" }),
      time: el("p", { id: "profile-time" }),
      dm: el("button", { type: "button", id: "profile-dm", className: "button", text: t.profile_message }),
      close: el("button", { type: "button", className: "button secondary", text: t.close, dataset: { close: "" } }),
    };
    const e = this.els;
    this.dialog.append(el("div", { className: "stack" },
      el("div", { className: "profile-head" }, e.avatar, el("div", {}, e.title, e.login)),
      e.status, e.time, el("div", { className: "row end" }, e.dm, e.close)));
    document.body.append(this.dialog);
    e.close.addEventListener("click", () => this.close());
    e.dm.addEventListener("click", () => {
      const name = this.user && this.user.name;
      this.close();
      if (name) this.onDm(name);
    });
    this.dialog.addEventListener("close", () => { this.userId = null; });
    // Authors in the log and search results, people in the online list.
    document.addEventListener("click", (event) => {
      const target = event.target.closest && event.target.closest("[data-profile]");
      if (!target || this.dialog.contains(target)) return;
      const id = cardId(target.dataset.profile);
      if (id !== null) this.open(id);
    });
  }

  open(id) {
    this.userId = id;
    this.user = null;
    this.render(null);
    if (!this.dialog.open) this.dialog.showModal();
    fetch(`/api/users/${id}`, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => r.json())
      .then((reply) => {
        if (this.userId !== id) return;
        if (!reply || !reply.ok) {
          this.els.status.textContent = (reply && reply.error && reply.error.message) || this.ctx.t.profile_not_found;
          return;
        }
        this.user = reply.user;
        this.render(reply.user);
      })
      .catch(() => { if (this.userId === id) this.els.status.textContent = this.ctx.t.error; });
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  render(user) {
    const { t, lang, me } = this.ctx;
    const e = this.els;
    const shown = user ? profiles.apply(user) : null;
    const { primary, secondary, name } = personLabel(shown, "…");
    e.avatar.replaceChildren(shown ? avatarBox(shown, "avatar large", 64) : "");
    e.title.textContent = primary;
    e.login.textContent = shown ? `@${secondary || name}` : "";
    const status = shown ? profiles.statusOf(shown.id, shown.status) : null;
    e.status.textContent = status ? fill(t.profile_status, { status }) : (shown ? t.profile_no_status : "");
    const time = shown ? timeIn(shown.time_zone, lang) : null;
    e.time.textContent = time ? fill(t.profile_local_time, { time, zone: shown.time_zone }) : "";
    e.time.hidden = !time;
    e.dm.hidden = !shown || me.id === null || shown.id === me.id;
    e.dm.setAttribute("aria-label", shown ? fill(t.dm_with, { name: primary }) : t.profile_message);
  }

  // user_updated: remember it, redraw the open card when it is theirs.
  updated(user) {
    if (!profiles.learn(user)) return;
    if (this.userId === user.id && this.user) this.render(this.user);
    if (this.onChanged) this.onChanged(user);
  }
}

// Redraw the lines of `userId` on screen (their author and avatar) from the stored messages.
export function redrawAuthor(list, userId, messageOf, update) {
  for (const item of list.querySelectorAll(`li.message[data-user="${Number(userId)}"]`)) {
    const msg = item.dataset.id ? messageOf(Number(item.dataset.id)) : null;
    if (msg) update(msg);
  }
}

// The page's own name in the sidebar follows one's display name.
export function showMe(ctx, user) {
  const me = $("me");
  if (!me || ctx.me.id == null || user.id !== ctx.me.id) return;
  me.textContent = personLabel(profiles.apply(user)).primary;
}
