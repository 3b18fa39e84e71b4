// The conversation controller: which conversation is open, its history (first page, since
// catch-up, older pages, back to the newest), live messages, sending with acks and resends,
// edits, deletions, reactions, reports. Socket events reach it through main.js only.

import { Store } from "./store.js";
import { pendingLine } from "./views/message.js";
import { newClientId } from "./uploads.js";

const REMEMBER = "chat.room:";

export class Chat {
  constructor(ctx, { log, header, composer, showError, onOpened, onJoinedRoom }) {
    this.ctx = ctx;
    this.socket = ctx.socket;
    this.store = new Store();
    this.log = log;
    this.header = header;
    this.composer = composer;
    this.showError = showError;
    this.onOpened = onOpened;   // (room) => sidebar, header, settings, read marks follow
    this.onJoinedRoom = onJoinedRoom;  // (room) => what views ask the server about a joined room
    this.current = this.remembered();
    this.loadingOlder = false;
    this.loadingLatest = false;
    this.uploads = null;        // set by main.js
    this.onRead = () => {};     // set by main.js: the open conversation was read to its end
  }

  conversation(room = this.current) {
    return this.store.get(room);
  }

  remembered() {
    try {
      return localStorage.getItem(REMEMBER + (this.ctx.me.id ?? this.ctx.me.name)) || "";
    } catch {
      return "";
    }
  }

  remember(room) {
    try {
      localStorage.setItem(REMEMBER + (this.ctx.me.id ?? this.ctx.me.name), room);
    } catch {
      // storage refused: a reload opens "everyone"
    }
  }

  // Socket requests with an answer; a refusal or no answer goes to the errors area.
  ask(event, data, onOk, onFail) {
    const { t } = this.ctx;
    if (!this.socket.connected) {
      this.showError({ message: t.offline });
      if (onFail) onFail();
      return;
    }
    this.socket.timeout(10000).emit(event, data, (err, ack) => {
      if (err || !ack || !ack.ok) {
        this.showError(err ? { message: t.no_answer } : ack && ack.error);
        if (onFail) onFail(ack);
        return;
      }
      if (onOk) onOk(ack);
    });
  }

  // ---- opening a conversation ----

  // Switch to `room` ("" for messages to everyone): the log is rebuilt from its history.
  open(room, onJoined, lastReadId = null) {
    const previous = this.current;
    this.current = room;
    this.remember(room);
    const c = this.conversation(room);
    c.reset();
    this.log.open(c, lastReadId);
    this.onOpened(room);
    if (!this.socket.connected) return;  // catchUp() loads it once connected
    if (!room) {
      this.socket.emit("get_history", {}, (reply) => {
        if (reply && reply.ok) this.history(reply);
      });
      if (onJoined) onJoined();
      return;
    }
    this.socket.emit("join_room", { room }, (ack) => {
      if (ack && ack.ok) {
        if (ack.room && ack.room !== room && this.current === room) {
          this.open(ack.room, onJoined, lastReadId);  // the name as the room spells it
          return;
        }
        // What the views ask of the room waits for the join: it may have created the room,
        // and a refused join must not be followed by a second error.
        if (this.onJoinedRoom) this.onJoinedRoom(room);
        if (onJoined) onJoined();
        return;
      }
      if (ack && ack.error) this.showError(ack.error);
      if (this.current === room) this.open(previous === room ? "" : previous);
    });
  }

  // `history` (after a join) and get_history replies for the open conversation.
  history(reply) {
    if (!reply || !reply.messages || (reply.room || "") !== this.current) return;
    const c = this.conversation();
    const first = !c.loaded;
    const wasNear = this.log.nearBottom();
    const settled = reply.messages.filter((m) => m.client_id && c.pending.has(m.client_id)).map((m) => c.pending.get(m.client_id));
    c.page(reply);
    settled.forEach((entry) => entry.item.remove());
    if (c.messages.length > c.limit && (first || wasNear)) c.trim("newest");
    this.log.render(first || wasNear ? "bottom" : "keep");
    if (reply.since !== undefined && reply.has_more) this.requestSince(this.current);
    this.onRead();
  }

  requestSince(room) {
    const request = this.conversation(room).catchUp();
    this.socket.emit("get_history", request, (reply) => {
      if (reply && reply.ok) this.history(reply);
    });
  }

  // Back after a (re)connect: the open conversation since its last id, then what waited.
  catchUp(again) {
    const c = this.conversation();
    if (!c.loaded) {
      this.open(this.current, null, this.log.lastRead);
    } else if (this.current) {
      this.socket.emit("join_room", c.catchUp());
    } else {
      this.requestSince("");
    }
    // What is on screen may have been edited, deleted or reacted to meanwhile.
    if (again && c.loaded && c.oldestId !== null) this.pageFrom(this.current, c.oldestId - 1);
    for (const conversation of this.store.conversations.values()) conversation.unacked().forEach((entry) => this.transmit(conversation, entry));
  }

  // Pages of a conversation after `since`, until the newest; then `done`.
  pageFrom(room, since, done) {
    const request = { since, limit: this.ctx.settings.historyPageMax };
    if (room) request.room = room;
    this.socket.emit("get_history", request, (reply) => {
      if (!reply || !reply.ok || (reply.room || "") !== this.current) return;
      const c = this.conversation();
      for (const msg of reply.messages) {
        const outcome = c.add(msg);
        if (outcome === "updated") this.log.update(msg);
        else if (outcome === "added") this.log.insert(msg);
      }
      const last = reply.messages.length ? reply.messages[reply.messages.length - 1].id : null;
      if (reply.has_more && last !== null) {
        this.pageFrom(room, last, done);
        return;
      }
      if (done) done();
    });
  }

  older() {
    const c = this.conversation();
    const request = c.older(50);
    if (!request || this.loadingOlder || !this.socket.connected) return;
    this.loadingOlder = true;
    this.socket.emit("get_history", request, (reply) => {
      this.loadingOlder = false;
      if (!reply || !reply.ok || (reply.room || "") !== this.current) return;
      c.page(reply, { older: true });
      c.trim("oldest");
      this.log.render("anchor");
    });
  }

  // The reader came back to the end of a window that no longer reaches the newest.
  latest() {
    const c = this.conversation();
    if (c.atLatest || this.loadingLatest) return;
    this.loadingLatest = true;
    const request = this.current ? { room: this.current } : {};
    this.socket.emit("get_history", request, (reply) => {
      this.loadingLatest = false;
      if (!reply || !reply.ok || (reply.room || "") !== this.current) return;
      c.reset();
      c.page(reply);
      this.log.render("bottom");
    });
  }

  // ---- live messages ----

  live(msg, reading) {
    const key = msg.room || "";
    if (key !== this.current) return;
    const c = this.conversation();
    if (c.gap(msg)) {
      this.requestSince(key);
      return;
    }
    if (msg.client_id && this.uploads) this.uploads.settled(msg.client_id);  // its progress line goes
    const own = msg.client_id ? c.pending.get(msg.client_id) : null;
    const outcome = c.add(msg);
    if (own && outcome === "added") {
      this.log.settle(own.item, msg);
      return;
    }
    if (own) own.item.remove();
    if (outcome === "added") {
      this.log.insert(msg);
      if (c.messages.length > c.limit && this.log.nearBottom()) this.log.remove(c.trim("newest"));
    } else if (outcome === "updated") {
      this.log.update(msg);
    }
    if (reading) this.onRead();
  }

  updated(msg) {
    if (!msg || msg.id == null || (msg.room || "") !== this.current) return;
    if (this.conversation().update(msg)) this.log.update(msg);
  }

  // ---- sending ----

  send() {
    const message = this.composer.value;
    if (!message.trim() || !this.socket.active) return false;  // active: connected, or reconnecting
    const room = this.current;
    const payload = { message, client_id: newClientId() };
    if (room) payload.room = room;
    const item = pendingLine(message, this.ctx, room, this.ctx.t.pending);
    this.log.append(item);
    const c = this.conversation();
    const entry = c.addPending({ event: room ? "room_message" : "send_message", payload, item });
    this.composer.clear();
    // Offline, catchUp() sends it once connected, after rejoining the room (emitting now would
    // queue it in socket.io's buffer, which is flushed before the room is joined again).
    if (this.socket.connected) this.transmit(c, entry);
    return true;
  }

  transmit(c, entry) {
    this.socket.timeout(10000).emit(entry.event, entry.payload, (err, ack) => {
      if (err) return;  // no answer: resent after the next reconnect
      const { item, payload } = entry;
      if (ack && ack.ok) {
        if (!c.ack(payload.client_id, ack.id)) return;  // the echo came first
        const msg = { id: ack.id, room: payload.room || null, text: payload.message, user: this.ctx.me, ts: new Date().toISOString(), client_id: payload.client_id };
        if (c.add(msg) === "added" && item.isConnected) this.log.settle(item, msg);
        else item.remove();
        return;
      }
      c.fail(payload.client_id);
      item.classList.remove("pending");
      item.classList.add("failed");
      const state = item.querySelector(".state");
      if (state) state.textContent = this.ctx.t.failed;
      if (!this.composer.value) this.composer.value = payload.message;
      if (ack && ack.error) this.showError(ack.error);
    });
  }

  // ---- edit, delete, react, report ----

  messageOf(id) {
    return this.conversation().get(id) || null;
  }

  edit(id, message, done) {
    const { t } = this.ctx;
    if (!message.trim()) {
      this.showError({ message: t.empty_edit });
      done(false);
      return;
    }
    this.ask("edit_message", { id, message }, () => {
      const before = this.messageOf(id);
      // message_updated brings the saved line; until then show the text as saved.
      done(true, before ? { ...before, text: message, html: undefined, edited_at: new Date().toISOString() } : null);
    }, () => done(false));
  }

  remove(id) {
    if (!window.confirm(this.ctx.t.confirm_delete)) return;
    this.ask("delete_message", { id });
  }

  react(id, emoji) {
    this.ask("react", { id, emoji }, (ack) => {
      const msg = this.messageOf(id);
      // The ack has the reactions as they are now; message_updated follows with the rest.
      if (msg && ack.reactions) this.updated({ ...msg, reactions: ack.reactions });
    });
  }

  report(id) {
    const { t, settings } = this.ctx;
    const reason = window.prompt(t.report_prompt, "");
    if (reason === null) return;
    fetch(`/api/messages/${Number(id)}/report`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": settings.csrfToken, Accept: "application/json" },
      body: JSON.stringify({ reason }),
    }).then(async (response) => {
      if (response.ok) {
        this.log.addNotice(t.report_sent);
        return;
      }
      let body = null;
      try {
        body = await response.json();
      } catch {
        body = null;
      }
      this.showError(body && body.error ? body.error : { message: `${t.error} (${response.status})` });
    }, () => this.showError({ message: t.no_answer }));
  }

  // A search hit: open its conversation, load the page that ends with it and everything after
  // it up to the newest, then show it.
  reveal(msg, onShown) {
    const room = msg.room || "";
    if (room === this.current && this.log.lineOf(msg.id)) {
      onShown(msg.id);
      return;
    }
    const around = () => {
      const request = { before: msg.id + 1 };
      if (room) request.room = room;
      this.socket.emit("get_history", request, (reply) => {
        if (!reply || !reply.ok) {
          this.showError(reply && reply.error);
          return;
        }
        if (this.current !== room) return;
        const c = this.conversation();
        c.page(reply, { older: true });
        this.pageFrom(room, msg.id, () => {
          this.log.render("keep");
          onShown(msg.id);
        });
      });
    };
    if (room === this.current) around();
    else this.open(room, around);
  }
}
