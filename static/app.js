// The chat page: plain JS; user text is always rendered with textContent, and the server's
// formatting only through rich.js's allow-list rebuild.
(function () {
  "use strict";

  const t = JSON.parse(document.getElementById("i18n").textContent);
  const settings = JSON.parse(document.getElementById("settings").textContent);
  const rich = window.chatRich;
  const me = settings.user;
  const $ = (id) => document.getElementById(id);
  const els = {
    status: $("status"), connect: $("connect"), disconnect: $("disconnect"),
    roomForm: $("room-form"), roomInput: $("room-input"), join: $("join"), leave: $("leave"),
    currentRoom: $("current-room"), errors: $("errors"), list: $("messages"), older: $("load-older"),
    messageForm: $("message-form"), messageInput: $("message-input"), send: $("send"),
    delayed: $("delayed"), card: $("messages-card"), attach: $("attach"), fileInput: $("file-input"),
    dropHint: $("drop-hint"), picker: $("react-picker"), pickerForm: $("react-other-form"),
    pickerInput: $("react-other"), searchForm: $("search-form"), searchInput: $("search-input"),
    searchResults: $("search-results"), searchSummary: $("search-summary"), searchList: $("search-list"),
    searchClose: $("search-close"),
  };
  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");

  // Without its Socket.IO client (static/vendor/socket.io.min.js did not load) the page cannot
  // connect: say so, visibly and to screen readers, rather than show 切断中 forever.
  if (typeof window.io !== "function") {
    const alert = $("client-missing");
    alert.textContent = t.client_missing;
    alert.hidden = false;
    els.status.textContent = t.cannot_connect;
    els.connect.disabled = true;
    return;
  }

  // Same origin as the page: no host or port is ever hard-coded.
  const socket = io({ autoConnect: false });
  let currentRoom = "";
  let roomLabel = null;             // how the sidebar names the current room (e.g. "@bob")
  const roomChangeHandlers = [];
  const sendHandlers = [];
  const seen = new Set();           // ids of stored messages on screen
  const pending = new Map();        // client_id -> {event, payload, item}, in send order
  const uploads = new Map();        // client_id -> the progress line of a file being uploaded
  const channels = new Map();       // "" (everyone) or room name -> {lastId, oldestId, hasMore}

  function channel(room) {
    const key = room || "";
    if (!channels.has(key)) channels.set(key, { lastId: null, oldestId: null, hasMore: false });
    return channels.get(key);
  }

  function newClientId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);  // works on plain http too, unlike crypto.randomUUID
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // "Messages are delayed": the server says so (its message queue is down), or the socket has
  // been reconnecting for a while.
  const delay = { server: false, reconnectingSince: null };
  function showDelay() {
    const long = delay.reconnectingSince !== null && Date.now() - delay.reconnectingSince >= 5000;
    els.delayed.hidden = !(delay.server || long);
  }

  function setStatus(state) {
    if (state === "reconnecting" && delay.reconnectingSince === null) {
      delay.reconnectingSince = Date.now();
      setTimeout(showDelay, 5000);
    } else if (state !== "reconnecting") {
      delay.reconnectingSince = null;
    }
    showDelay();
    els.status.className = "status " + state;
    els.status.textContent = t[state];
    const connected = state === "connected";
    els.connect.disabled = connected || state === "reconnecting";
    els.disconnect.disabled = !connected && state !== "reconnecting";
    els.join.disabled = !connected;
    // While reconnecting a message can still be written: it waits as pending (sent on connect).
    els.send.disabled = !connected && state !== "reconnecting";
    els.leave.disabled = !connected;
  }

  function showRoom() {
    const name = roomLabel || currentRoom;
    els.currentRoom.textContent = name || t.no_room;
    els.leave.hidden = !currentRoom;
    els.leave.textContent = currentRoom ? t.leave + " (" + name + ")" : t.leave;
    els.send.textContent = currentRoom ? t.send_room : t.send;
    els.older.hidden = !channel(currentRoom).hasMore;
  }

  function nearBottom() {
    return els.list.scrollHeight - els.list.scrollTop - els.list.clientHeight < 40;
  }

  function scrollIfNeeded(wasNearBottom, force) {
    if (wasNearBottom || force) els.list.scrollTop = els.list.scrollHeight;
  }

  function localTime(iso, long) {
    const date = new Date(iso);
    const lang = document.documentElement.lang;
    return long ? date.toLocaleString(lang) : date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  }

  function isMine(msg) {
    return me.id !== null && msg.user && msg.user.id === me.id;
  }

  function button(className, action, label, text) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = className;
    b.dataset.action = action;
    b.setAttribute("aria-label", label);
    b.title = label;
    b.textContent = text;
    return b;
  }

  function group(className, label) {
    const box = document.createElement("div");
    box.className = className;
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", label);
    return box;
  }

  // Chips under the message: "👍 2", pressed when this user is among those who reacted.
  function reactionChips(msg) {
    const box = group("reactions", t.reactions);
    msg.reactions.forEach((r) => {
      const chip = button("chip", "toggle", fill(t.reaction_chip, { emoji: r.emoji, count: r.count }), r.emoji + " " + r.count);
      chip.dataset.emoji = r.emoji;
      chip.setAttribute("aria-pressed", String(me.id !== null && r.users.includes(me.id)));
      chip.disabled = me.id === null;
      box.append(chip);
    });
    return box;
  }

  // Edit and Delete on one's own messages (Delete also for admins), React for identified users.
  function actionButtons(msg) {
    const box = group("actions", t.message_actions);
    if (me.id !== null) box.append(button("act", "react", t.react_label, "☺"));
    if (isMine(msg)) box.append(button("act", "edit", t.edit_label, "✎"));
    if (isMine(msg) || settings.user.admin) box.append(button("act", "delete", t.delete_label, "🗑"));
    return box;
  }

  function fillMessage(item, msg, room) {
    item.className = "message " + (room ? "room" : "global");
    item.textContent = "";
    if (room) item.append(t.room_prefix + " ");
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = (msg.user && msg.user.name) || msg.sid;
    const text = document.createElement("span");
    text.className = "text";
    if (msg.deleted) {
      item.classList.add("deleted");
      text.textContent = t.deleted;
    } else if (msg.html) {
      text.dataset.format = "html";
      text.append(rich.formatted(msg.html));
    } else {
      text.textContent = msg.text;
    }
    item.append(author, text);
    if (msg.ts) {
      const time = document.createElement("time");
      time.className = "time";
      time.dateTime = msg.ts;
      time.textContent = localTime(msg.ts);
      item.append(time);
    }
    if (msg.edited_at && !msg.deleted) {
      const edited = document.createElement("span");
      edited.className = "edited";
      edited.textContent = "(" + t.edited + ")";
      edited.title = fill(t.edited_at, { time: localTime(msg.edited_at, true) });
      item.append(edited);
    }
    if (msg.file && !msg.deleted) item.append(rich.fileBlock(msg.file, t));
    if (msg.reactions && msg.reactions.length && !msg.deleted) item.append(reactionChips(msg));
    if (msg.id != null) {
      item.dataset.id = String(msg.id);
      item.tabIndex = -1;  // a search hit is focused when brought into view
      item.shown = msg;
      if (!msg.deleted && (me.id !== null)) item.append(actionButtons(msg));
    }
    if (room && mentionsMe(msg)) item.classList.add("mentioned");
  }

  // What a re-render would change: a repeated payload (a live echo, a history page after a
  // reconnect) that says the same leaves the line, and the focus in it, alone.
  function signature(msg) {
    return JSON.stringify([msg.text, msg.html, msg.edited_at, msg.deleted, msg.reactions, msg.file && msg.file.id]);
  }

  function lineOf(id) {
    return els.list.querySelector('li[data-id="' + Number(id) + '"]');
  }

  // Re-render a line in place (an edit, a deletion, reactions), keeping the focus where it was.
  function updateShown(msg) {
    const item = lineOf(msg.id);
    if (!item) return;
    if (item.shown && signature(item.shown) === signature(msg)) { item.shown = msg; return; }
    if (item.querySelector(".editor")) { item.latest = msg; return; }  // applied when the editor closes
    const focused = item.contains(document.activeElement) ? document.activeElement : null;
    const where = focused && focused !== item ? { action: focused.dataset.action, emoji: focused.dataset.emoji } : null;
    const highlighted = item.classList.contains("highlight");
    fillMessage(item, msg, msg.room);
    if (highlighted) item.classList.add("highlight");
    if (focused === item) item.focus({ preventScroll: true });
    if (!where || !where.action) return;
    const again = Array.from(item.querySelectorAll("button[data-action]"))
      .find((b) => b.dataset.action === where.action && b.dataset.emoji === where.emoji);
    (again || item).focus({ preventScroll: true });
  }

  // Live messages list who they mention; stored ones from history do not, so the server's rule
  // (@name, case-insensitive, in a room) is applied to their text.
  const MENTION = /@([^\s@]{1,32})/g;
  function mentionsMe(msg) {
    if (settings.user.id === null) return false;
    if (msg.mentions) return msg.mentions.includes(settings.user.id);
    const me = settings.user.name.trim().toLowerCase();
    return Array.from(String(msg.text || "").matchAll(MENTION), (m) => m[1].toLowerCase()).includes(me);
  }

  // The list shows the current room and the messages to everyone; other rooms the user
  // follows only count as unread in the sidebar.
  function inView(room) {
    return !room || room === currentRoom;
  }

  // Stored messages are kept in id order, above own lines still pending; notices (no id) stay
  // where they arrived.
  function insertById(item, id) {
    const later = Array.from(els.list.querySelectorAll("li[data-id], li.pending"))
      .find((li) => li !== item && (li.classList.contains("pending") || Number(li.dataset.id) > id));
    els.list.insertBefore(item, later || null);
  }

  function track(msg) {
    const ch = channel(msg.room);
    if (ch.lastId === null || msg.id > ch.lastId) ch.lastId = msg.id;
    if (ch.oldestId === null || msg.id < ch.oldestId) ch.oldestId = msg.id;
  }

  function showStored(msg) {
    if (msg.id == null || !inView(msg.room)) return;
    track(msg);
    const uploaded = msg.client_id && uploads.get(msg.client_id);
    if (uploaded) {  // our upload's message: its progress line goes, the message takes its place
      uploads.delete(msg.client_id);
      uploaded.remove();
    }
    const own = msg.client_id && pending.get(msg.client_id);
    if (own) {  // our own message came back: the pending line becomes the stored one
      pending.delete(msg.client_id);
      if (seen.has(msg.id)) { own.item.remove(); return; }
      seen.add(msg.id);
      fillMessage(own.item, msg, msg.room);
      insertById(own.item, msg.id);  // where it was stored: the order every page shows
      return;
    }
    if (seen.has(msg.id)) { updateShown(msg); return; }  // perhaps edited, deleted or reacted to since
    seen.add(msg.id);
    const wasNearBottom = nearBottom();
    const item = document.createElement("li");
    fillMessage(item, msg, msg.room);
    insertById(item, msg.id);
    scrollIfNeeded(wasNearBottom, false);
  }

  // A live message whose `prev` is newer than the last id we have: something between them did
  // not arrive (another node's message during a queue outage). Fetch from the last id; the
  // reply has this message too.
  function showLive(msg) {
    if (msg.id != null && msg.prev != null && inView(msg.room)) {
      const ch = channel(msg.room);
      if (ch.lastId !== null && msg.prev > ch.lastId) { requestSince(msg.room); return; }
    }
    showStored(msg);
  }

  function showNotice(text, kind) {
    const wasNearBottom = nearBottom();
    const item = document.createElement("li");
    item.className = kind ? "message " + kind + " notice" : "message notice";
    item.textContent = text;
    els.list.appendChild(item);
    scrollIfNeeded(wasNearBottom, false);
  }

  function showRoomNotice(payload) {
    if (payload.room !== currentRoom) return;
    const who = payload.user && payload.user.name ? payload.user.name : payload.sid;
    showNotice(t.room_prefix + " " + payload.data.replace("クライアント " + payload.sid, who), "room");
  }

  function showHistory(reply) {
    if (!reply || !reply.messages || !inView(reply.room)) return;
    const ch = channel(reply.room);
    reply.messages.forEach(showStored);
    if (reply.since === undefined) {
      ch.hasMore = reply.has_more;  // older messages remain
    } else if (reply.has_more) {
      requestSince(reply.room);     // a long absence: keep catching up
    }
    showRoom();
  }

  function requestSince(room) {
    const request = { since: channel(room).lastId };
    if (room) request.room = room;
    socket.emit("get_history", request, (reply) => { if (reply && reply.ok) showHistory(reply); });
  }

  function showError(err) {
    els.errors.textContent = t.error + ": " + (err && err.message ? err.message : String(err));
    clearTimeout(showError.timer);
    showError.timer = setTimeout(() => { els.errors.textContent = ""; }, 6000);
  }

  // ---- sending, with acks, pending marks and resends ----

  function markSent(entry, ack) {
    if (!pending.has(entry.payload.client_id)) return;  // already replaced by the echo
    pending.delete(entry.payload.client_id);
    if (seen.has(ack.id)) { entry.item.remove(); return; }
    seen.add(ack.id);
    entry.item.classList.remove("pending");
    entry.item.dataset.id = String(ack.id);
    const state = entry.item.querySelector(".state");
    if (state) state.remove();
    if (inView(entry.payload.room)) insertById(entry.item, ack.id);
  }

  function transmit(entry) {
    socket.timeout(10000).emit(entry.event, entry.payload, (err, ack) => {
      if (err) return;  // no answer: resent after the next reconnect
      if (ack && ack.ok) { markSent(entry, ack); return; }
      pending.delete(entry.payload.client_id);
      entry.item.classList.remove("pending");
      entry.item.classList.add("failed");
      entry.item.querySelector(".state").textContent = t.failed;
      if (!els.messageInput.value) els.messageInput.value = entry.payload.message;
      if (ack && ack.error) showError(ack.error);
    });
  }

  function sendMessage() {
    const message = els.messageInput.value;
    if (!message.trim() || !socket.active) return;  // active: connected, or reconnecting
    const payload = { message, client_id: newClientId() };
    if (currentRoom) payload.room = currentRoom;
    const item = document.createElement("li");
    fillMessage(item, { text: message, user: settings.user }, currentRoom);
    item.classList.add("pending");
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = t.pending;
    item.append(state);
    els.list.appendChild(item);
    els.list.scrollTop = els.list.scrollHeight;
    const entry = { event: currentRoom ? "room_message" : "send_message", payload, item };
    pending.set(payload.client_id, entry);
    els.messageInput.value = "";
    sendHandlers.forEach((handler) => handler(entry));
    // Offline, catchUp() sends it once connected, after rejoining the room (emitting now would
    // queue it in socket.io's buffer, which is flushed before the room is joined again).
    if (socket.connected) transmit(entry);
  }

  // ---- connection ----

  function catchUp() {
    // Everything after the last id seen, for the room and for messages to everyone.
    const global = channel("");
    socket.emit("get_history", global.lastId === null ? {} : { since: global.lastId }, (reply) => {
      if (reply && reply.ok) showHistory(reply);
    });
    if (currentRoom) {
      const ch = channel(currentRoom);
      socket.emit("join_room", ch.lastId === null ? { room: currentRoom } : { room: currentRoom, since: ch.lastId });
    }
    pending.forEach(transmit);  // same client_id: the server stores each message once
  }

  // Pages of a channel after `since`, each message shown or re-rendered, until the newest;
  // then `done`.
  function pageFrom(room, since, done) {
    const request = { since, limit: settings.historyPageMax };
    if (room) request.room = room;
    socket.emit("get_history", request, (reply) => {
      if (!reply || !reply.ok || !inView(room)) return;
      reply.messages.forEach(showStored);
      const last = reply.messages.length ? reply.messages[reply.messages.length - 1].id : null;
      if (reply.has_more && last !== null) { pageFrom(room, last, done); return; }
      if (done) done();
    });
  }

  // Back after a reconnect: what is on screen may have been edited, deleted or reacted to
  // meanwhile. Everything from the oldest line shown comes again and replaces what is there.
  function refreshShown() {
    channels.forEach((ch, room) => {
      if (ch.oldestId !== null && inView(room)) pageFrom(room, ch.oldestId - 1);
    });
  }

  let connectedBefore = false;
  socket.on("connect", () => {
    setStatus("connected");
    catchUp();
    if (connectedBefore) refreshShown();
    connectedBefore = true;
  });
  socket.on("message_updated", (msg) => { if (msg && msg.id != null && inView(msg.room)) updateShown(msg); });
  socket.on("disconnect", () => {
    delay.server = false;  // the next node says so at connect if its queue is down
    setStatus(socket.active ? "reconnecting" : "disconnected");
  });
  socket.io.on("reconnect_attempt", () => setStatus("reconnecting"));
  socket.on("connect_error", (err) => {
    if (err && err.message === "unauthorized") { window.location.href = "/login?next=/"; return; }
    setStatus(socket.active ? "reconnecting" : "disconnected");
  });
  socket.on("message", (payload) => showLive(payload));
  socket.on("room_message", (payload) => (payload.type ? showRoomNotice(payload) : showLive(payload)));
  socket.on("delivery", (status) => {
    delay.server = Boolean(status && status.delayed);
    showDelay();
    if (delay.server) return;
    // Messages flow again: fetch what may have been missed meanwhile.
    if (channel("").lastId !== null) requestSince("");
    if (currentRoom && channel(currentRoom).lastId !== null) requestSince(currentRoom);
  });
  socket.on("history", showHistory);
  socket.on("error", showError);

  els.connect.addEventListener("click", () => { setStatus("reconnecting"); socket.connect(); });
  els.disconnect.addEventListener("click", () => { socket.disconnect(); setStatus("disconnected"); });

  // Switch the view to `room` ("" for messages to everyone): the list is rebuilt from history.
  function openRoom(room, onJoined) {
    const previous = currentRoom;
    currentRoom = room;
    roomLabel = null;
    els.list.textContent = "";
    seen.clear();
    channels.clear();
    showRoom();
    roomChangeHandlers.forEach((handler) => handler(room));
    if (!socket.connected) return;  // catchUp() loads the view once connected
    socket.emit("get_history", {}, (reply) => { if (reply && reply.ok) showHistory(reply); });
    if (!room) { if (onJoined) onJoined(); return; }
    // The view switches first, so that the history the join sends is shown.
    socket.emit("join_room", { room }, (ack) => {
      if (ack && ack.ok) { if (onJoined) onJoined(); return; }
      if (ack && ack.error) showError(ack.error);
      if (currentRoom === room) openRoom(previous === room ? "" : previous);
    });
  }

  els.roomForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const room = els.roomInput.value.trim();
    if (!room || !socket.connected) return;
    openRoom(room, () => { els.roomInput.value = ""; });
  });

  els.leave.addEventListener("click", () => {
    if (!currentRoom || !socket.connected) return;
    const room = currentRoom;
    socket.emit("leave_room", { room }, (ack) => {
      if (ack && ack.ok === false && ack.error.code !== "not_in_room") return;
      if (currentRoom === room) openRoom("");
    });
  });

  function loadOlder() {
    const ch = channel(currentRoom);
    if (!ch.hasMore || ch.loading || ch.oldestId === null || !socket.connected) return;
    ch.loading = true;
    const request = { before: ch.oldestId, limit: 50 };
    if (currentRoom) request.room = currentRoom;
    const previousHeight = els.list.scrollHeight;
    socket.emit("get_history", request, (reply) => {
      ch.loading = false;
      if (!reply || !reply.ok) return;
      showHistory(reply);
      els.list.scrollTop += els.list.scrollHeight - previousHeight;  // keep the reader's place
    });
  }
  els.older.addEventListener("click", loadOlder);
  els.list.addEventListener("scroll", () => { if (els.list.scrollTop === 0) loadOlder(); });

  els.messageForm.addEventListener("submit", (event) => { event.preventDefault(); sendMessage(); });
  // Enter submits the form, except while an IME composition is active
  // (Japanese input must not send half-typed text): the same in every text field with a form.
  [els.messageInput, els.searchInput, els.pickerInput].forEach((input) => input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.isComposing || event.keyCode === 229)) event.preventDefault();
  }));
  els.messageInput.maxLength = settings.maxMessageLength;
  els.roomInput.maxLength = settings.maxRoomLength;

  // ---- edit, delete, react ----

  // Socket requests with an answer; a refusal goes to the errors area.
  function ask(event, data, onOk) {
    if (!socket.connected) { showError({ message: t.offline }); return; }
    socket.timeout(10000).emit(event, data, (err, ack) => {
      if (err) { showError({ message: t.no_answer }); return; }
      if (!ack || !ack.ok) { showError(ack && ack.error); return; }
      if (onOk) onOk(ack);
    });
  }

  function openEditor(item) {
    const msg = item.shown;
    if (!msg || item.querySelector(".editor")) return;
    const text = item.querySelector(".text");
    const editor = document.createElement("span");
    editor.className = "editor";
    const input = document.createElement("input");
    input.type = "text";
    input.className = "input edit-input";
    input.value = msg.text;
    input.maxLength = settings.maxMessageLength;
    input.setAttribute("aria-label", t.edit_label);
    input.setAttribute("aria-describedby", "edit-hint");
    const save = button("button small", "save", t.save, t.save);
    const cancel = button("button small secondary", "cancel", t.cancel, t.cancel);
    editor.append(input, save, cancel);
    text.hidden = true;
    text.after(editor);
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  function closeEditor(item, refocus) {
    const editor = item.querySelector(".editor");
    if (!editor) return;
    editor.remove();
    const latest = item.latest || item.shown;
    item.latest = null;
    item.shown = null;  // re-rendered from the newest payload
    fillMessage(item, latest, latest.room);
    if (refocus) {
      const edit = item.querySelector('button[data-action="edit"]');
      (edit || item).focus({ preventScroll: true });
    }
  }

  function saveEdit(item) {
    const input = item.querySelector(".edit-input");
    const message = input.value;
    if (message === item.shown.text) { closeEditor(item, true); return; }
    if (!message.trim()) { showError({ message: t.empty_edit }); return; }
    input.disabled = true;
    socket.timeout(10000).emit("edit_message", { id: item.shown.id, message }, (err, ack) => {
      input.disabled = false;
      if (err) { showError({ message: t.no_answer }); return; }
      if (!ack || !ack.ok) { showError(ack && ack.error); input.focus(); return; }
      // message_updated brings the saved line; until then show the text as saved.
      if (!item.latest) item.latest = Object.assign({}, item.shown, { text: message, html: undefined, edited_at: new Date().toISOString() });
      closeEditor(item, true);
    });
  }

  function deleteMessage(item) {
    if (!window.confirm(t.confirm_delete)) return;
    ask("delete_message", { id: item.shown.id });
  }

  function toggleReaction(id, emoji) {
    ask("react", { id, emoji }, (ack) => {
      const item = lineOf(id);
      // The ack has the reactions as they are now; message_updated follows with the rest.
      if (item && item.shown && ack.reactions) updateShown(Object.assign({}, item.shown, { reactions: ack.reactions }));
    });
  }

  // One picker for the page, placed next to the React button that opened it.
  let pickerFor = null;  // the id of the message it reacts to
  function openPicker(trigger, id) {
    pickerFor = id;
    const card = els.card.getBoundingClientRect();
    const at = trigger.getBoundingClientRect();
    els.picker.hidden = false;
    const width = els.picker.offsetWidth;
    els.picker.style.top = (at.bottom - card.top + 4) + "px";
    els.picker.style.left = Math.max(4, Math.min(at.right - card.left - width, card.width - width - 4)) + "px";
    els.picker.querySelector("button").focus();
  }

  function closePicker(refocus) {
    if (els.picker.hidden) return;
    els.picker.hidden = true;
    els.pickerInput.value = "";
    const id = pickerFor;
    pickerFor = null;
    const item = id !== null && lineOf(id);
    if (refocus && item) (item.querySelector('button[data-action="react"]') || item).focus({ preventScroll: true });
  }

  function pick(emoji) {
    const id = pickerFor;
    closePicker(true);
    if (id !== null && emoji) toggleReaction(id, emoji);
  }

  els.picker.addEventListener("click", (event) => {
    const choice = event.target.closest("button[data-emoji]");
    if (choice) pick(choice.dataset.emoji);
  });
  els.pickerForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const emoji = els.pickerInput.value.trim();
    if (emoji) pick(emoji);
  });
  els.picker.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { event.preventDefault(); closePicker(true); }
  });
  document.addEventListener("pointerdown", (event) => {
    if (!els.picker.hidden && !els.picker.contains(event.target) && !event.target.closest('button[data-action="react"]')) {
      closePicker(false);
    }
  });
  els.picker.addEventListener("focusout", (event) => {
    if (event.relatedTarget && !els.picker.contains(event.relatedTarget)) closePicker(false);
  });

  roomChangeHandlers.push(() => closePicker(false));

  els.list.addEventListener("click", (event) => {
    const control = event.target.closest("button[data-action]");
    const item = control && control.closest("li[data-id]");
    if (!item || !item.shown) return;
    const id = item.shown.id;
    switch (control.dataset.action) {
      case "edit": openEditor(item); break;
      case "save": saveEdit(item); break;
      case "cancel": closeEditor(item, true); break;
      case "delete": deleteMessage(item); break;
      case "react": if (pickerFor === id && !els.picker.hidden) closePicker(true); else openPicker(control, id); break;
      case "toggle": toggleReaction(id, control.dataset.emoji); break;
      default: break;
    }
  });
  els.list.addEventListener("keydown", (event) => {
    if (!event.target.classList.contains("edit-input")) return;
    const item = event.target.closest("li[data-id]");
    if (event.key === "Escape") { event.preventDefault(); closeEditor(item, true); return; }
    if (event.key !== "Enter") return;
    event.preventDefault();  // Enter inside an IME composition only commits the composition
    if (event.isComposing || event.keyCode === 229) return;
    saveEdit(item);
  });

  // ---- search ----

  function roomName(room) {
    if (!room) return t.everyone;
    return window.chatPage.nameRoom ? window.chatPage.nameRoom(room) : room;
  }

  // The text with the query's occurrences marked (text nodes only).
  function excerpt(text, query) {
    const out = document.createElement("span");
    out.className = "excerpt";
    const short = text.length > 160 ? text.slice(0, 157) + "…" : text;
    const lower = short.toLowerCase();
    const needle = query.toLowerCase();
    let from = 0;
    for (let at = lower.indexOf(needle); needle && at !== -1; at = lower.indexOf(needle, from)) {
      out.append(short.slice(from, at));
      const mark = document.createElement("mark");
      mark.textContent = short.slice(at, at + needle.length);
      out.append(mark);
      from = at + needle.length;
    }
    out.append(short.slice(from));
    return out;
  }

  function hit(msg, query) {
    const item = document.createElement("li");
    const open = document.createElement("button");
    open.type = "button";
    open.className = "search-hit";
    open.dataset.id = String(msg.id);
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = (msg.user && msg.user.name) || msg.sid;
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = msg.room ? "# " + roomName(msg.room) : roomName(null);
    const time = document.createElement("time");
    time.dateTime = msg.ts;
    time.textContent = localTime(msg.ts, true);
    const text = msg.text || (msg.file ? msg.file.name : "");
    open.append(author, where, time, excerpt(text, query));
    open.addEventListener("click", () => openMessage(msg));
    item.append(open);
    return item;
  }

  let searchSeq = 0;  // a reply to a search closed or replaced meanwhile is not shown
  function closeSearch(refocus) {
    searchSeq += 1;
    els.searchResults.hidden = true;
    els.searchList.textContent = "";
    els.searchSummary.textContent = "";
    if (refocus) els.searchInput.focus();
  }

  els.searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = els.searchInput.value.trim();
    if (!q) { closeSearch(false); return; }
    const seq = ++searchSeq;
    ask("search", { q }, (reply) => {
      if (seq !== searchSeq) return;
      els.searchList.textContent = "";
      reply.results.forEach((msg) => els.searchList.append(hit(msg, q)));
      els.searchSummary.textContent = reply.results.length
        ? fill(t.search_count, { count: reply.results.length, q }) : fill(t.no_results, { q });
      els.searchResults.hidden = false;
    });
  });
  [els.searchForm, els.searchResults].forEach((el) => el.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !els.searchResults.hidden) { event.preventDefault(); closeSearch(true); }
  }));
  els.searchClose.addEventListener("click", () => closeSearch(true));

  // Bring a line into view, highlighted for a moment, with the focus on it.
  function reveal(id) {
    const item = lineOf(id);
    if (!item) { showError({ message: t.not_found }); return; }
    els.list.querySelectorAll("li.highlight").forEach((li) => li.classList.remove("highlight"));
    item.classList.add("highlight");
    item.scrollIntoView({ block: "center" });
    item.focus({ preventScroll: true });
    setTimeout(() => item.classList.remove("highlight"), 4000);
  }

  // A search hit in its history: open its room, load the page that ends with it and everything
  // after it up to the newest, then show it.
  function openMessage(msg) {
    const room = msg.room || "";
    if (room === currentRoom && lineOf(msg.id)) { reveal(msg.id); return; }
    const around = () => {
      const request = { before: msg.id + 1 };
      if (room) request.room = room;
      socket.emit("get_history", request, (reply) => {
        if (!reply || !reply.ok) { showError(reply && reply.error); return; }
        if (currentRoom !== room) return;
        showHistory(reply);
        pageFrom(room, msg.id, () => reveal(msg.id));
      });
    };
    if (room === currentRoom) around(); else openRoom(room, around);
  }

  // ---- uploads ----

  function uploadError(status, body) {
    if (status === 413) return fill(t.too_large, { max: rich.humanSize(settings.maxUploadSize) });
    if (status === 415) return t.type_refused;
    if (body && body.error && body.error.message) return body.error.message;
    return t.upload_failed + (status ? " (" + status + ")" : "");
  }

  function uploadLine(file, room) {
    const item = document.createElement("li");
    item.className = "message " + (room ? "room" : "global") + " pending upload";
    const name = document.createElement("span");
    name.className = "text";
    name.textContent = "📎 " + file.name + " (" + rich.humanSize(file.size) + ")";
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", fill(t.uploading_name, { name: file.name }));
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = t.uploading;
    item.append(name, bar, state);
    return item;
  }

  function failUpload(item, clientId, message) {
    uploads.delete(clientId);
    item.classList.remove("pending");
    item.classList.add("failed");
    const bar = item.querySelector("progress");
    if (bar) bar.remove();
    item.querySelector(".state").textContent = t.upload_failed + ": " + message;
    showError({ message });
  }

  function upload(file, caption) {
    const room = currentRoom;
    const clientId = newClientId();
    const item = uploadLine(file, room);
    els.list.appendChild(item);
    els.list.scrollTop = els.list.scrollHeight;
    if (settings.maxUploadSize && file.size > settings.maxUploadSize) {
      failUpload(item, clientId, uploadError(413));
      return;
    }
    uploads.set(clientId, item);
    const form = new FormData();
    form.append("file", file, file.name);
    if (room) form.append("room", room);
    if (caption) form.append("message", caption);
    form.append("client_id", clientId);
    if (socket.id) form.append("sid", socket.id);
    // XMLHttpRequest, not fetch: it reports the upload's progress.
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/uploads");
    xhr.setRequestHeader("X-CSRFToken", settings.csrfToken);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      const bar = item.querySelector("progress");
      if (bar && event.lengthComputable) bar.value = Math.round((100 * event.loaded) / event.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
      if (xhr.status === 201 && body && body.message) {
        if (uploads.has(clientId) && inView(body.message.room)) showStored(body.message);
        else if (uploads.has(clientId)) { uploads.delete(clientId); item.remove(); }
        return;
      }
      if (caption && !els.messageInput.value) els.messageInput.value = caption;
      failUpload(item, clientId, uploadError(xhr.status, body));
    });
    xhr.addEventListener("error", () => failUpload(item, clientId, t.upload_failed));
    xhr.send(form);
  }

  function uploadAll(files) {
    const list = Array.from(files || []);
    if (!list.length) return;
    const caption = els.messageInput.value.trim() ? els.messageInput.value : "";
    els.messageInput.value = "";
    list.forEach((file, n) => upload(file, n === 0 ? caption : ""));
  }

  els.attach.addEventListener("click", () => els.fileInput.click());
  els.fileInput.addEventListener("change", () => {
    uploadAll(els.fileInput.files);
    els.fileInput.value = "";
  });

  // Files dropped on the message list or the form; dropped anywhere else, the browser would
  // leave the page to show them.
  const hasFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
  let dragDepth = 0;
  function showDropHint(on) {
    els.dropHint.hidden = !on;
    els.card.classList.toggle("dropping", on);
  }
  els.card.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth += 1;
    showDropHint(true);
  });
  els.card.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  els.card.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) showDropHint(false);
  });
  els.card.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    showDropHint(false);
    uploadAll(event.dataTransfer.files);
  });
  ["dragover", "drop"].forEach((name) => window.addEventListener(name, (event) => {
    if (hasFiles(event) && !els.card.contains(event.target)) event.preventDefault();
  }));

  // What the sidebar (sidebar.js) builds on.
  window.chatPage = {
    socket, t, settings, openRoom, showError, showNotice,
    currentRoom: () => currentRoom,
    lastId: (room) => channel(room).lastId,
    setLabel: (label) => { roomLabel = label; showRoom(); },
    onRoomChange: (handler) => roomChangeHandlers.push(handler),
    onSend: (handler) => sendHandlers.push(handler),
  };

  showRoom();
  setStatus("reconnecting");
  socket.connect();
})();
