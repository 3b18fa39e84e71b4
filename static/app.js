// The chat page: plain JS, user text always rendered with textContent.
(function () {
  "use strict";

  const t = JSON.parse(document.getElementById("i18n").textContent);
  const $ = (id) => document.getElementById(id);
  const els = {
    status: $("status"), connect: $("connect"), disconnect: $("disconnect"),
    roomForm: $("room-form"), roomInput: $("room-input"), join: $("join"), leave: $("leave"),
    currentRoom: $("current-room"), errors: $("errors"), list: $("messages"),
    messageForm: $("message-form"), messageInput: $("message-input"), send: $("send"),
  };

  // Same origin as the page: no host or port is ever hard-coded.
  const socket = io({ autoConnect: false });
  let currentRoom = "";

  function setStatus(state) {
    els.status.className = "status " + state;
    els.status.textContent = t[state];
    const connected = state === "connected";
    els.connect.disabled = connected;
    els.disconnect.disabled = !connected && state !== "reconnecting";
    els.join.disabled = !connected;
    els.send.disabled = !connected;
    els.leave.disabled = !connected;
  }

  function showRoom() {
    els.currentRoom.textContent = currentRoom || t.no_room;
    els.leave.hidden = !currentRoom;
    els.leave.textContent = currentRoom ? t.leave + " (" + currentRoom + ")" : t.leave;
    els.leave.setAttribute("aria-label", els.leave.textContent);
    els.send.textContent = currentRoom ? t.send_room : t.send;
  }

  function addMessage(text, kind) {
    const nearBottom = els.list.scrollHeight - els.list.scrollTop - els.list.clientHeight < 40;
    const item = document.createElement("li");
    item.className = "message " + kind;
    item.textContent = text;
    els.list.appendChild(item);
    if (nearBottom || kind === "own") els.list.scrollTop = els.list.scrollHeight;
  }

  function showError(err) {
    els.errors.textContent = t.error + ": " + (err && err.message ? err.message : String(err));
    clearTimeout(showError.timer);
    showError.timer = setTimeout(() => { els.errors.textContent = ""; }, 6000);
  }

  socket.on("connect", () => {
    setStatus("connected");
    // After a reconnect the server has forgotten this connection's rooms: rejoin.
    if (currentRoom) socket.emit("join_room", { room: currentRoom });
  });
  socket.on("disconnect", () => setStatus(socket.active ? "reconnecting" : "disconnected"));
  socket.io.on("reconnect_attempt", () => setStatus("reconnecting"));
  socket.on("connect_error", (err) => {
    setStatus(socket.active ? "reconnecting" : "disconnected");
    console.error("connect_error", err);
  });
  socket.on("message", (payload) => addMessage(payload.data, "global"));
  socket.on("room_message", (payload) => {
    const kind = payload.type ? "room notice" : "room";
    addMessage(t.room_prefix + " " + payload.data, kind);
  });
  socket.on("error", showError);

  els.connect.addEventListener("click", () => { setStatus("reconnecting"); socket.connect(); });
  els.disconnect.addEventListener("click", () => { socket.disconnect(); setStatus("disconnected"); });

  els.roomForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const room = els.roomInput.value.trim();
    if (!room || !socket.connected) return;
    const previous = currentRoom;
    socket.emit("join_room", { room }, (ack) => {
      if (!ack || !ack.ok) return;
      if (previous && previous !== room) socket.emit("leave_room", { room: previous });
      currentRoom = room;
      els.roomInput.value = "";
      showRoom();
    });
  });

  els.leave.addEventListener("click", () => {
    if (!currentRoom || !socket.connected) return;
    const room = currentRoom;
    socket.emit("leave_room", { room }, (ack) => {
      if (ack && ack.ok === false && ack.error.code !== "not_in_room") return;
      currentRoom = "";
      showRoom();
    });
  });

  function sendMessage() {
    const message = els.messageInput.value;
    if (!message.trim() || !socket.connected) return;
    if (currentRoom) socket.emit("room_message", { room: currentRoom, message });
    else socket.emit("send_message", { message });
    els.messageInput.value = "";
  }

  els.messageForm.addEventListener("submit", (event) => { event.preventDefault(); sendMessage(); });
  // Enter submits the form, except while an IME composition is active
  // (Japanese input must not send half-typed text).
  els.messageInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.isComposing || event.keyCode === 229)) event.preventDefault();
  });

  showRoom();
  setStatus("disconnected");
  setStatus("reconnecting");
  socket.connect();
})();
