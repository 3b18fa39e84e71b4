// The sidebar: rooms with member/online/unread counts, direct messages, who is online, typing
// hints, and the current room's settings. User text is always rendered with textContent.
(function () {
  "use strict";

  const page = window.chatPage;
  if (!page) return;
  const { socket, t, settings } = page;
  const me = settings.user;
  const $ = (id) => document.getElementById(id);
  const els = {
    rooms: $("room-list"), dms: $("dm-list"), online: $("online-list"), onlineCount: $("online-count"),
    createForm: $("create-room-form"), newName: $("new-room-name"), newTopic: $("new-room-topic"),
    newPrivate: $("new-room-private"), topic: $("room-topic"), tools: $("room-tools"),
    topicForm: $("topic-form"), topicInput: $("topic-input"), inviteForm: $("invite-form"),
    inviteInput: $("invite-input"), removeForm: $("remove-form"), removeInput: $("remove-input"),
    typing: $("typing"), messageInput: $("message-input"),
  };
  let rooms = new Map();          // name -> room info from list_rooms (with live unread counts)
  const typers = new Map();       // "room|user id" -> {name, room, timer}
  const followed = new Set();     // rooms this socket receives (the server follows memberships at connect)

  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");

  function label(room) {
    return room.kind === "dm" && room.peer ? "@" + room.peer.name : room.name;
  }
  page.nameRoom = (name) => (rooms.has(name) ? label(rooms.get(name)) : name);  // search hits say "@bob"

  function entry(room) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "room-entry";
    button.dataset.room = room.name;
    if (room.name === page.currentRoom()) button.setAttribute("aria-current", "true");
    const name = document.createElement("span");
    name.className = "room-name";
    name.textContent = (room.kind === "dm" ? "" : "# ") + label(room) + (room.private && room.kind !== "dm" ? " 🔒" : "");
    const counts = document.createElement("span");
    counts.className = "counts";
    const parts = [];
    if (room.kind !== "dm") {
      counts.textContent = room.members + " " + (room.members === 1 ? t.member_one : t.members) + " · " +
        room.online + " " + t.online_count;
      parts.push(counts.textContent);
    }
    button.append(name, counts);
    if (room.unread) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = String(room.unread);
      button.append(badge);
      parts.push(room.unread + " " + t.unread);
    }
    if (room.mentions) {
      const badge = document.createElement("span");
      badge.className = "badge mention";
      badge.textContent = "@" + room.mentions;
      button.append(badge);
      parts.push(room.mentions + " " + t.mentions);
    }
    button.setAttribute("aria-label", [label(room)].concat(parts).join(", "));
    button.addEventListener("click", () => page.openRoom(room.name));
    item.append(button);
    return item;
  }

  function render() {
    els.rooms.textContent = "";
    els.dms.textContent = "";
    rooms.forEach((room) => (room.kind === "dm" ? els.dms : els.rooms).append(entry(room)));
    showCurrent();
  }

  function showCurrent() {
    const room = rooms.get(page.currentRoom());
    page.setLabel(room ? label(room) : null);
    els.topic.hidden = !room || !room.topic;
    els.topic.textContent = room && room.topic ? room.topic : "";
    const mine = room && room.kind !== "dm" && me.id !== null && room.creator === me.id;
    els.tools.hidden = !room || room.kind === "dm" || me.id === null;
    els.topicForm.hidden = !mine;
    els.removeForm.hidden = !mine;
    if (mine) els.topicInput.value = room.topic;
  }

  let refreshTimer = null;
  function refresh() {  // debounced: presence changes come in bursts
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      socket.emit("list_rooms", {}, (reply) => {
        if (!reply || !reply.ok) return;
        rooms = new Map(reply.rooms.map((r) => [r.name, r]));
        const current = rooms.get(page.currentRoom());
        if (current && current.unread) markRead(current.name, null);
        reply.rooms.forEach((r) => { if (r.member && followed.size === 0) followed.add(r.name); });
        render();
      });
      socket.emit("who_is_online", {}, (reply) => { if (reply && reply.ok) showOnline(reply.users); });
    }, 150);
  }

  function showOnline(users) {
    els.online.textContent = "";
    els.onlineCount.textContent = String(users.length);
    users.forEach((user) => {
      const item = document.createElement("li");
      const who = document.createElement("span");
      const dot = document.createElement("span");
      dot.className = "dot" + (user.status === "away" ? " away" : "");
      who.append(dot, user.name + (user.status === "away" ? " (" + t.away + ")" : ""));
      item.append(who);
      if (me.id !== null && user.id !== me.id) {
        const dm = document.createElement("button");
        dm.type = "button";
        dm.className = "button small secondary";
        dm.textContent = "DM";
        dm.setAttribute("aria-label", fill(t.dm_with, { name: user.name }));
        dm.addEventListener("click", () => openDm(user.name));
        item.append(dm);
      }
      els.online.append(item);
    });
  }

  function openDm(name) {
    socket.emit("open_dm", { user: name }, (reply) => {
      if (!reply || !reply.ok) { page.showError(reply && reply.error); return; }
      rooms.set(reply.room, { name: reply.room, kind: "dm", private: true, peer: reply.peer, unread: 0, mentions: 0 });
      render();
      page.openRoom(reply.room);
      refresh();
    });
  }

  const lastMarked = new Map();
  const markLater = new Map();  // room -> timer of the mark deferred by the once-a-second limit
  function markRead(room, id) {
    const info = rooms.get(room);
    if (!info || !info.member && info.kind !== "dm") return;
    const now = Date.now();
    const wait = 1000 - (now - (lastMarked.get(room) || 0));
    if (wait > 0 && id !== null) {  // at most once a second, but the last message read is marked too
      clearTimeout(markLater.get(room));
      markLater.set(room, setTimeout(() => { markLater.delete(room); markRead(room, id); }, wait));
      return;
    }
    const last = id !== null ? id : page.lastId(room);
    if (last === null || last === undefined) return;
    lastMarked.set(room, now);
    socket.emit("mark_read", { room, id: last });
  }

  // ---- live updates ----

  socket.on("connect", () => { followed.clear(); refresh(); });
  socket.on("presence", refresh);
  socket.on("rooms_changed", (change) => {
    // Follow a room joined in another tab, one we were invited to, or a new conversation.
    if (["invited", "joined", "dm"].includes(change.reason) && !followed.has(change.room)) {
      followed.add(change.room);
      socket.emit("subscribe", { room: change.room });
    }
    if (change.reason === "invited") page.showNotice(fill(t.invited, change));
    if (change.reason === "removed") {
      followed.delete(change.room);  // a later invitation subscribes again
      page.showNotice(fill(t.removed, change));
      if (page.currentRoom() === change.room) page.openRoom("");
    }
    refresh();
  });
  socket.on("room_updated", (update) => {
    const room = rooms.get(update.room);
    if (room) { room.topic = update.topic; render(); }
  });
  socket.on("read", (read) => {
    const room = rooms.get(read.room);
    if (!room) return;
    room.last_read_id = read.last_read_id;
    room.unread = 0;
    room.mentions = 0;
    render();
  });
  socket.on("room_message", (msg) => {
    if (msg.type || msg.id == null) return;  // notices
    clearTyping(msg.room, msg.user && msg.user.id);
    const room = rooms.get(msg.room);
    if (!room) { refresh(); return; }
    if (msg.user && msg.user.id === me.id && me.id !== null) return;
    if (msg.room === page.currentRoom() && document.visibilityState === "visible") {
      markRead(msg.room, msg.id);
      return;
    }
    room.unread = (room.unread || 0) + 1;
    if (msg.mentions && msg.mentions.includes(me.id)) room.mentions = (room.mentions || 0) + 1;
    render();
  });
  document.addEventListener("visibilitychange", () => {
    const room = page.currentRoom();
    if (document.visibilityState === "visible" && room && rooms.get(room) && rooms.get(room).unread) markRead(room, null);
  });
  // Opening a room empties the list and asks for its history: only once that has arrived is
  // there a last id to mark as read (onRoomChange below runs too early for that).
  socket.on("history", (reply) => {
    const info = reply && reply.room && reply.room === page.currentRoom() ? rooms.get(reply.room) : null;
    if (info && info.unread && document.visibilityState === "visible") markRead(reply.room, null);
  });
  page.onRoomChange((room) => {
    const info = rooms.get(room);
    if (info && info.unread) markRead(room, null);
    render();
    showTyping();
  });

  // ---- typing ----

  function showTyping() {
    const names = [];
    typers.forEach((typer) => { if (typer.room === page.currentRoom()) names.push(typer.name); });
    els.typing.textContent = names.length === 0 ? "" : names.length === 1
      ? fill(t.typing_one, { name: names[0] }) : fill(t.typing_many, { names: names.join(", ") });
  }

  function clearTyping(room, userId) {
    const key = room + "|" + userId;
    const typer = typers.get(key);
    if (!typer) return;
    clearTimeout(typer.timer);
    typers.delete(key);
    showTyping();
  }

  socket.on("typing", (hint) => {
    if (!hint.user || (me.id !== null && hint.user.id === me.id)) return;
    const key = hint.room + "|" + hint.user.id;
    const previous = typers.get(key);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => clearTyping(hint.room, hint.user.id), 4000);
    typers.set(key, { name: hint.user.name, room: hint.room, timer });
    showTyping();
  });

  let lastTyping = 0;
  els.messageInput.addEventListener("input", () => {
    const room = page.currentRoom();
    const now = Date.now();
    if (!room || !socket.connected || !els.messageInput.value || now - lastTyping < settings.typingInterval * 1000) return;
    lastTyping = now;
    socket.emit("typing", { room });
  });
  page.onSend(() => { lastTyping = 0; });

  // ---- forms ----

  els.createForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = { room: els.newName.value.trim(), topic: els.newTopic.value, private: els.newPrivate.checked };
    if (!request.room) return;
    socket.emit("create_room", request, (reply) => {
      if (!reply || !reply.ok) { page.showError(reply && reply.error); return; }
      els.newName.value = "";
      els.newTopic.value = "";
      els.newPrivate.checked = false;
      refresh();
      page.openRoom(reply.room.name);
    });
  });

  function roomForm(form, input, event, key) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const room = page.currentRoom();
      if (!room) return;
      socket.emit(event, { room, [key]: input.value }, (reply) => {
        if (!reply || !reply.ok) { page.showError(reply && reply.error); return; }
        if (key === "user") input.value = "";
        refresh();
      });
    });
  }
  roomForm(els.topicForm, els.topicInput, "set_topic", "topic");
  roomForm(els.inviteForm, els.inviteInput, "invite", "user");
  roomForm(els.removeForm, els.removeInput, "remove_member", "user");

  // Tell the server we are here when the user interacts (at most once a minute).
  let lastActive = 0;
  ["keydown", "pointerdown", "focus"].forEach((name) => window.addEventListener(name, () => {
    const now = Date.now();
    if (now - lastActive < 60000 || !socket.connected) return;
    lastActive = now;
    socket.emit("active");
  }, true));
})();
