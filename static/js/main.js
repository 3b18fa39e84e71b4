// The chat page: reads the page's data, builds the views, and wires each socket event once to
// the controllers (chat.js: the open conversation; rooms.js: directory, unread, presence).

import { $ } from "./dom.js";
import { noticeText } from "./notices.js";
import { step } from "./unread.js";
import { Chat } from "./chat.js";
import { Rooms } from "./rooms.js";
import { Notifications, openFromUrl } from "./push.js";
import { Uploads } from "./uploads.js";
import { Composer } from "./views/composer.js";
import { NewRoomDialog, SettingsDialog, SwitcherDialog } from "./views/dialogs.js";
import { Drawer } from "./views/drawer.js";
import { Header } from "./views/header.js";
import { PinsView } from "./views/pins.js";
import { LogView } from "./views/log.js";
import { MessageMenus } from "./views/menus.js";
import { ProfileCard, redrawAuthor, showMe } from "./views/profile.js";
import { SearchView } from "./views/search.js";
import { Threads } from "./views/threads.js";
import { Sidebar } from "./views/sidebar.js";
import { setupTheme } from "./views/theme.js";

const t = JSON.parse($("i18n").textContent);
const settings = JSON.parse($("settings").textContent);
const ctx = { t, settings, me: settings.user, lang: document.documentElement.lang, socket: null, baseTitle: t.title };
const io = window.io;  // the Socket.IO client: a classic script, read once
openFromUrl(settings.user);  // a notification's "/?room=…": before the conversation is chosen

setupTheme();
const drawer = new Drawer();
const header = new Header(ctx);

function showError(err) {
  const box = $("errors");
  box.textContent = `${t.error}: ${err && err.message ? err.message : String(err)}`;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => { box.textContent = ""; }, 6000);
}

if (typeof io !== "function") {
  // Without its Socket.IO client the page cannot connect: say so, rather than show 切断中 forever.
  const alert = $("client-missing");
  alert.textContent = t.client_missing;
  alert.hidden = false;
  header.cannotConnect();
} else {
  start();
}

function start() {
  // Same origin as the page: no host or port is ever hard-coded.
  const socket = io({ autoConnect: false });
  ctx.socket = socket;
  let chat = null;
  let rooms = null;
  let pins = null;
  const log = new LogView($("messages"), $("jump-latest"), ctx, {
    onOlder: () => chat.older(),
    onLatest: () => chat.latest(),
    onReadBottom: () => rooms.readCurrent(),
  });
  const composer = new Composer(ctx, {
    onSend: () => { if (chat.send()) rooms.sent(); },
    onTyping: () => rooms.typed(),
    onEditLast: () => menus.editLast(chat.conversation().lastOwn(ctx.me.id)),
    onFiles: (files) => uploadAll(files),
  });
  chat = new Chat(ctx, {
    log, header, composer, showError,
    onOpened: () => {
      drawer.close(false);
      if (rooms) {
        rooms.show();
        rooms.readCurrent();
      }
      if (pins) pins.opened(chat.current);
    },
    onJoinedRoom: (room) => {
      if (pins) pins.joined(room);
    },
  });
  const sidebar = new Sidebar(ctx, { onOpen: (room) => rooms.open(room), onDm: (name) => rooms.openDm(name) });
  const settingsDialog = new SettingsDialog(ctx, { onSubmit: (...args) => rooms.settings(...args) });
  rooms = new Rooms(ctx, { chat, sidebar, header, settingsDialog, showError });
  const notifications = new Notifications(ctx, { open: (room) => rooms.open(room), info: (room) => rooms.info(room), label: (room) => rooms.label(room) });
  chat.onRead = () => rooms.readCurrent();
  const threads = new Threads(ctx, { showError, openRoom: (room) => { if (room !== chat.current) rooms.open(room); } });
  const menus = new MessageMenus(ctx, log, {
    messageOf: (id) => chat.messageOf(id),
    edit: (id, text, done) => chat.edit(id, text, done),
    remove: (id) => chat.remove(id),
    react: (id, emoji) => chat.react(id, emoji),
    report: (id) => chat.report(id),
    reply: (id) => { const msg = chat.messageOf(id); if (msg) threads.open(msg.room, msg.thread_id || msg.id); },
    pin: (id) => pins.toggle(id),
  });
  pins = new PinsView(ctx, {
    current: () => chat.current, info: (room) => rooms.info(room), messages: (room) => chat.conversation(room).messages,
    menuFor: () => menus.menuFor, onJump: (msg) => chat.reveal(msg, reveal), showError, refresh: () => rooms.show(),
  });
  new NewRoomDialog(ctx, { onCreate: (request, done) => rooms.create(request, done) });
  const switcher = new SwitcherDialog(ctx, { items: () => rooms.switcherItems(), onChoose: (item) => rooms.choose(item) });
  new SearchView(ctx, {
    onSearch: (q, show) => chat.ask("search", { q }, (reply) => show(reply.results)),
    onOpen: (msg) => chat.reveal(msg, reveal),
    roomName: (room) => rooms.label(room),
  });
  const uploads = new Uploads(ctx, {
    log, socketId: () => socket.id, showError,
    onStored: (msg) => chat.live(msg, rooms.reading()),
  });
  chat.uploads = uploads;
  const card = new ProfileCard(ctx, {
    onDm: (name) => rooms.openDm(name),
    onChanged: (user) => {
      redrawAuthor(log.list, user.id, (id) => chat.messageOf(id), (msg) => log.update(msg));
      rooms.refresh();  // the online list
      showMe(ctx, user);
    },
  });

  function uploadAll(files) {
    if (!files.length) return;
    const caption = composer.value.trim() ? composer.value : "";
    composer.clear();
    files.forEach((file, n) => uploads.send(file, chat.current, n === 0 ? caption : "", (text) => {
      if (!composer.value) composer.value = text;
    }));
  }

  // Bring a line into view, highlighted for a moment, with the focus on it.
  function reveal(id) {
    const item = log.lineOf(id);
    if (!item) {
      showError({ message: t.not_found });
      return;
    }
    log.list.querySelectorAll("li.highlight").forEach((li) => li.classList.remove("highlight"));
    item.classList.add("highlight");
    log.pinned = false;  // the reader goes to this line: no longer held at the newest
    item.scrollIntoView({ block: "center" });
    item.focus({ preventScroll: true });
    setTimeout(() => item.classList.remove("highlight"), 4000);
  }

  // ---- the connection ----

  // "Messages are delayed": the server says so (its message queue is down), or the socket has
  // been reconnecting for a while.
  const delay = { server: false, since: null };
  function showDelay() {
    const long = delay.since !== null && Date.now() - delay.since >= 5000;
    $("delayed").hidden = !(delay.server || long);
  }
  function setStatus(state) {
    if (state === "reconnecting" && delay.since === null) {
      delay.since = Date.now();
      setTimeout(showDelay, 5000);
    } else if (state !== "reconnecting") {
      delay.since = null;
    }
    showDelay();
    header.status(state);
  }

  let connectedBefore = false;
  socket.on("connect", () => {
    setStatus("connected");
    chat.catchUp(connectedBefore);
    rooms.connected();
    threads.connected();
    connectedBefore = true;
  });
  socket.on("disconnect", () => {
    delay.server = false;  // the next node says so at connect if its queue is down
    setStatus(socket.active ? "reconnecting" : "disconnected");
  });
  socket.io.on("reconnect_attempt", () => setStatus("reconnecting"));
  socket.on("connect_error", (err) => {
    if (err && err.message === "unauthorized") {
      window.location.href = "/login?next=/";
      return;
    }
    setStatus(socket.active ? "reconnecting" : "disconnected");
  });
  const liveMessage = (msg) => {
    if (msg.type) {
      if ((msg.room || "") === chat.current) log.addNotice(noticeText(msg, t), "room");
      rooms.refresh();  // its member and online counts changed
      return;
    }
    if (msg.id == null) return;
    if (msg.thread_id != null) threads.live(msg);  // a reply: its thread's panel and unread
    else rooms.message(msg);
    chat.live(msg, rooms.reading());
    notifications.message(msg);
  };
  socket.on("message", liveMessage);
  socket.on("room_message", liveMessage);
  socket.on("history", (reply) => chat.history(reply));
  socket.on("message_updated", (msg) => {
    chat.updated(msg);
    pins.updated(msg);
    threads.updated(msg);
  });
  socket.on("thread_state", (state) => threads.state(state));
  socket.on("delivery", (status) => {
    delay.server = Boolean(status && status.delayed);
    showDelay();
    if (!delay.server && chat.conversation().lastId !== null) chat.requestSince(chat.current);  // fetch what was missed
  });
  socket.on("error", showError);
  socket.on("presence", () => rooms.refresh());
  socket.on("rooms_changed", (change) => rooms.roomsChanged(change));
  socket.on("room_updated", (update) => rooms.roomUpdated(update));
  socket.on("read", (mark) => rooms.read(mark));
  socket.on("typing", (hint) => rooms.typing(hint));
  socket.on("user_updated", (update) => card.updated(update && update.user));
  showMe(ctx, ctx.me);
  socket.on("pins_changed", (update) => pins.changed(update));
  socket.on("notification_level", (change) => pins.levelChanged(change));
  socket.on("seen", (receipt) => pins.receipt(receipt.room, receipt.last_read_id));
  socket.on("preferences", () => rooms.refresh());

  $("connect").addEventListener("click", () => {
    setStatus("reconnecting");
    socket.connect();
  });
  $("disconnect").addEventListener("click", () => {
    socket.disconnect();
    setStatus("disconnected");
  });
  $("room-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("room-input");
    const room = input.value.trim();
    if (!room || !socket.connected) return;
    chat.open(room, () => { input.value = ""; rooms.refresh(); });  // the list shows the room now joined
  });
  $("leave").addEventListener("click", () => {
    const room = chat.current;
    if (!room || !socket.connected) return;
    socket.emit("leave_room", { room }, (ack) => {
      if (ack && ack.ok === false && ack.error.code !== "not_in_room") return;
      if (chat.current === room) chat.open("");
      rooms.refresh();
    });
  });

  // ---- the keyboard: Ctrl/Cmd+K, Alt+↑/↓ (rooms), Alt+Shift+↑/↓ (unread rooms) ----
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
      event.preventDefault();
      switcher.open();
      return;
    }
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      const order = sidebar.order(rooms.directory);
      const next = step(order, chat.current, event.key === "ArrowDown" ? 1 : -1, event.shiftKey ? rooms.unread : null);
      if (next !== null) rooms.open(next);
    }
  });

  // Files dropped on the conversation; dropped anywhere else, the browser would leave the page.
  const pane = document.querySelector(".pane");
  const hint = $("drop-hint");
  const hasFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
  let depth = 0;
  pane.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth += 1;
    hint.hidden = false;
  });
  pane.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  pane.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) hint.hidden = true;
  });
  pane.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    hint.hidden = true;
    uploadAll(Array.from(event.dataTransfer.files));
  });
  ["dragover", "drop"].forEach((name) => window.addEventListener(name, (event) => {
    if (hasFiles(event) && !pane.contains(event.target)) event.preventDefault();
  }));

  document.addEventListener("visibilitychange", () => rooms.readCurrent());
  // Tell the server we are here when the user interacts (at most once a minute).
  let lastActive = 0;
  ["keydown", "pointerdown", "focus"].forEach((name) => window.addEventListener(name, () => {
    const now = Date.now();
    if (now - lastActive < 60000 || !socket.connected) return;
    lastActive = now;
    socket.emit("active");
  }, true));

  header.room(chat.current, null);
  log.open(chat.conversation(), null);
  setStatus("reconnecting");
  socket.connect();
}
