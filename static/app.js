// The chat page: plain JS; user text is always rendered with textContent.
(function () {
  "use strict";

  const t = JSON.parse(document.getElementById("i18n").textContent);
  const settings = JSON.parse(document.getElementById("settings").textContent);
  const $ = (id) => document.getElementById(id);
  const els = {
    status: $("status"), connect: $("connect"), disconnect: $("disconnect"),
    roomForm: $("room-form"), roomInput: $("room-input"), join: $("join"), leave: $("leave"),
    currentRoom: $("current-room"), errors: $("errors"), list: $("messages"), older: $("load-older"),
    messageForm: $("message-form"), messageInput: $("message-input"), send: $("send"),
    delayed: $("delayed"),
  };

  // Same origin as the page: no host or port is ever hard-coded.
  const socket = io({ autoConnect: false });
  let currentRoom = "";
  let roomLabel = null;             // how the sidebar names the current room (e.g. "@bob")
  const roomChangeHandlers = [];
  const sendHandlers = [];
  const seen = new Set();           // ids of stored messages on screen
  const pending = new Map();        // client_id -> {event, payload, item}, in send order
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

  function fillMessage(item, msg, room) {
    item.className = "message " + (room ? "room" : "global");
    item.textContent = "";
    if (room) item.append(t.room_prefix + " ");
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = (msg.user && msg.user.name) || msg.sid;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = msg.text;
    item.append(author, text);
    if (msg.ts) {
      const time = document.createElement("time");
      time.className = "time";
      time.dateTime = msg.ts;
      time.textContent = new Date(msg.ts).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
      item.append(time);
    }
    if (msg.id != null) item.dataset.id = String(msg.id);
    if (room && mentionsMe(msg)) item.classList.add("mentioned");
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
    const own = msg.client_id && pending.get(msg.client_id);
    if (own) {  // our own message came back: the pending line becomes the stored one
      pending.delete(msg.client_id);
      if (seen.has(msg.id)) { own.item.remove(); return; }
      seen.add(msg.id);
      fillMessage(own.item, msg, msg.room);
      insertById(own.item, msg.id);  // where it was stored: the order every page shows
      return;
    }
    if (seen.has(msg.id)) return;
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

  socket.on("connect", () => {
    setStatus("connected");
    catchUp();
  });
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
    if (!room) return;
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
  // (Japanese input must not send half-typed text).
  els.messageInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.isComposing || event.keyCode === 229)) event.preventDefault();
  });
  els.messageInput.maxLength = settings.maxMessageLength;
  els.roomInput.maxLength = settings.maxRoomLength;

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
