// The rooms side: the directory (list_rooms), unread counts and read marks, the title and the
// favicon, who is online, who is typing, rooms joined elsewhere, invitations and removals.

import { Unread, title } from "./unread.js";
import { fill } from "./notices.js";
import { $ } from "./dom.js";
import { audibleTotal } from "./pins.js";

const TYPING_MS = 4000;

export class Rooms {
  constructor(ctx, { chat, sidebar, header, settingsDialog, showError }) {
    this.ctx = ctx;
    this.socket = ctx.socket;
    this.chat = chat;
    this.sidebar = sidebar;
    this.header = header;
    this.settingsDialog = settingsDialog;
    this.showError = showError;
    this.directory = new Map();     // name -> room info from list_rooms
    this.unread = new Unread(ctx.me.id);
    this.followed = new Set();      // rooms this socket receives
    this.typers = new Map();        // "room|user id" -> {name, room, timer}
    this.people = [];               // who is online
    this.lastMarked = new Map();
    this.markLater = new Map();
    this.refreshTimer = null;
    this.refreshing = false;    // a list_rooms request is out
    this.refreshAgain = false;  // and another was asked for meanwhile
    this.lastTyping = 0;
    this.favicon = $("favicon");
    this.typingLine = $("typing");
  }

  info(room) {
    return this.directory.get(room) || null;
  }

  label(room) {
    const info = this.info(room);
    return info && info.kind === "dm" && info.peer ? `@${info.peer.name}` : room;
  }

  // Sidebar, header, settings, title and favicon from the current state.
  show() {
    const current = this.chat.current;
    const info = this.info(current);
    this.sidebar.render(this.directory, current, this.unread);
    this.header.room(current, info);
    this.settingsDialog.show(info);
    document.title = title(this.ctx.baseTitle || this.ctx.t.title, audibleTotal(this.unread, this.directory));
    const href = this.favicon.dataset[this.unread.favicon() === "dot" ? "dot" : "plain"];
    if (this.favicon.getAttribute("href") !== href) this.favicon.setAttribute("href", href);
    this.showTyping();
  }

  // Debounced (presence changes come in bursts), one request at a time: a refresh asked for
  // while one is answered is sent after it, so an answer read before a join never has the last word.
  refresh() {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshing = true;
      this.socket.emit("list_rooms", {}, (reply) => {
        this.refreshing = false;
        if (this.refreshAgain) {
          this.refreshAgain = false;
          this.refresh();
        }
        if (!reply || !reply.ok) return;
        this.directory = new Map(reply.rooms.map((r) => [r.name, r]));
        this.unread.fromDirectory(reply.rooms);
        const current = this.info(this.chat.current);
        const log = this.chat.log;
        if (current && log.lastRead == null && current.last_read_id != null && current.unread) {
          log.lastRead = current.last_read_id;  // opened before the directory came: the line goes in now
          if (this.chat.conversation().loaded) log.render(log.nearBottom() ? "bottom" : "keep");
        }
        if (current && current.unread && this.reading()) this.markRead(current.name, null);
        if (this.followed.size === 0) reply.rooms.forEach((r) => r.member && this.followed.add(r.name));
        this.show();
      });
      this.socket.emit("who_is_online", {}, (reply) => {
        if (reply && reply.ok) {
          this.people = reply.users;
          this.sidebar.online(reply.users);
        }
      });
    }, 150);
  }

  reading() {
    return document.visibilityState === "visible";
  }

  // At most once a second per room, and the last message read is marked too.
  markRead(room, id) {
    const info = this.info(room);
    if (!info || (!info.member && info.kind !== "dm")) return;
    const now = Date.now();
    const wait = 1000 - (now - (this.lastMarked.get(room) || 0));
    if (wait > 0 && id !== null) {
      clearTimeout(this.markLater.get(room));
      this.markLater.set(room, setTimeout(() => {
        this.markLater.delete(room);
        this.markRead(room, id);
      }, wait));
      return;
    }
    const last = id !== null ? id : this.chat.conversation(room).lastId;
    if (last === null || last === undefined) return;
    this.lastMarked.set(room, now);
    this.socket.emit("mark_read", { room, id: last });
    if (this.unread.read(room, last)) this.show();
  }

  // The open conversation shows its newest message to a reader.
  readCurrent() {
    const room = this.chat.current;
    if (!room || !this.reading()) return;
    const { unread } = this.unread.counts(room);
    if (unread) this.markRead(room, null);
  }

  // ---- socket events (subscribed once, in main.js) ----

  connected() {
    this.followed.clear();
    this.refreshing = false;  // a request sent before the connection dropped gets no answer
    this.refresh();
  }

  message(msg) {
    this.clearTyping(msg.room, msg.user && msg.user.id);
    if (!msg.room) return;
    if (!this.directory.has(msg.room)) {
      this.refresh();
      return;
    }
    const open = msg.room === this.chat.current && this.reading();
    if (open) {
      if (!(msg.user && msg.user.id === this.ctx.me.id && this.ctx.me.id !== null)) this.markRead(msg.room, msg.id);
      return;
    }
    if (this.unread.message(msg)) this.show();
  }

  roomsChanged(change) {
    const { t } = this.ctx;
    // Follow a room joined in another tab, one we were invited to, or a new conversation.
    if (["invited", "joined", "dm"].includes(change.reason) && !this.followed.has(change.room)) {
      this.followed.add(change.room);
      this.socket.emit("subscribe", { room: change.room });
    }
    if (change.reason === "invited") this.chat.log.addNotice(fill(t.invited, change));
    if (change.reason === "removed") {
      this.followed.delete(change.room);  // a later invitation subscribes again
      this.chat.log.addNotice(fill(t.removed, change));
      if (this.chat.current === change.room) this.chat.open("");
    }
    this.refresh();
  }

  roomUpdated(update) {
    const info = this.info(update.room);
    if (info) {
      info.topic = update.topic;
      this.show();
    }
  }

  read(mark) {
    if (this.unread.read(mark.room, mark.last_read_id)) this.show();
  }

  // ---- typing ----

  showTyping() {
    const { t } = this.ctx;
    const names = [];
    this.typers.forEach((typer) => typer.room === this.chat.current && names.push(typer.name));
    this.typingLine.textContent = names.length === 0 ? "" : names.length === 1
      ? fill(t.typing_one, { name: names[0] }) : fill(t.typing_many, { names: names.join(", ") });
  }

  clearTyping(room, userId) {
    const key = `${room}|${userId}`;
    const typer = this.typers.get(key);
    if (!typer) return;
    clearTimeout(typer.timer);
    this.typers.delete(key);
    this.showTyping();
  }

  typing(hint) {
    const { me } = this.ctx;
    if (!hint.user || (me.id !== null && hint.user.id === me.id)) return;
    const key = `${hint.room}|${hint.user.id}`;
    const previous = this.typers.get(key);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => this.clearTyping(hint.room, hint.user.id), TYPING_MS);
    this.typers.set(key, { name: hint.user.name, room: hint.room, timer });
    this.showTyping();
  }

  // The composer's input: tell the room, at most once per typing interval.
  typed() {
    const room = this.chat.current;
    const now = Date.now();
    if (!room || !this.socket.connected || now - this.lastTyping < this.ctx.settings.typingInterval * 1000) return;
    this.lastTyping = now;
    this.socket.emit("typing", { room });
  }

  sent() {
    this.lastTyping = 0;
  }

  // ---- actions from the sidebar and the dialogs ----

  openDm(name) {
    this.chat.ask("open_dm", { user: name }, (reply) => {
      this.directory.set(reply.room, { name: reply.room, kind: "dm", private: true, peer: reply.peer, unread: 0, mentions: 0, member: true });
      this.open(reply.room);
      this.refresh();
    });
  }

  create(request, done) {
    this.chat.ask("create_room", request, (reply) => {
      done();
      this.refresh();
      this.open(reply.room.name);
    });
  }

  settings(event, key, value, done) {
    const room = this.chat.current;
    if (!room) return;
    this.chat.ask(event, { room, [key]: value }, () => {
      done();
      this.refresh();
    });
  }

  open(room) {
    const info = this.info(room);
    const known = room && this.unread.rooms.has(room) ? this.unread.room(room).lastReadId : null;
    this.chat.open(room, null, known ?? (info ? info.last_read_id : null));
  }

  // What the quick switcher offers: rooms, conversations, people (a DM with them).
  switcherItems() {
    const items = [{ key: "room:", label: this.ctx.t.everyone_room, kind: "room" }];
    for (const info of this.directory.values()) {
      items.push({ key: `room:${info.name}`, label: info.kind === "dm" ? this.label(info.name) : `#${info.name}`, kind: info.kind === "dm" ? "dm" : "room", unread: this.unread.counts(info.name).unread });
    }
    for (const user of this.people) {
      if (user.id !== this.ctx.me.id) items.push({ key: `person:${user.name}`, label: `@${user.name}`, kind: "person" });
    }
    return items;
  }

  choose(item) {
    if (item.key.startsWith("room:")) this.open(item.key.slice(5));
    else if (item.key.startsWith("person:")) this.openDm(item.key.slice(7));
  }
}
