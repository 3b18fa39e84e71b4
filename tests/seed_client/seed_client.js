// A client written exactly like the seed's page (socket.io-client 4.7.2, default path):
// two sockets join a room, talk, broadcast and leave. Prints what each received as JSON.
// usage: node seed_client.js URL [websocket|polling|upgrade]
const io = require("socket.io-client");

const url = process.argv[2];
const mode = process.argv[3] || "upgrade";
const options = mode === "upgrade" ? {} : { transports: [mode] };
const received = { a: [], b: [] };
const timer = setTimeout(() => finish("timeout"), 15000);

function client(name) {
  const socket = io(url, options);
  socket.on("message", (data) => received[name].push(["message", data.data]));
  socket.on("room_message", (data) => received[name].push(["room_message", data.data]));
  return socket;
}

function connected(socket) {
  return new Promise((resolve, reject) => {
    socket.on("connect", resolve);
    socket.on("connect_error", reject);
  });
}

const wait = (ms) => new Promise((r) => setTimeout(r, ms));

function finish(status) {
  clearTimeout(timer);
  const out = {
    status,
    a: { id: a.id, transport: a.io.engine && a.io.engine.transport.name, received: received.a },
    b: { id: b.id, transport: b.io.engine && b.io.engine.transport.name, received: received.b },
  };
  console.log(JSON.stringify(out));
  a.close();
  b.close();
  process.exit(status === "ok" ? 0 : 1);
}

const a = client("a");
const b = client("b");

(async () => {
  await Promise.all([connected(a), connected(b)]);
  await wait(mode === "upgrade" ? 500 : 50); // let the upgrade to websocket happen
  a.emit("join_room", { room: "test-room" });
  await wait(100);
  b.emit("join_room", { room: "test-room" });
  await wait(100);
  a.emit("room_message", { room: "test-room", message: "こんにちは" });
  await wait(100);
  b.emit("send_message", { message: "全員へ" });
  await wait(100);
  a.emit("leave_room", { room: "test-room" });
  await wait(300);
  finish("ok");
})().catch((err) => { console.error(err); finish("error"); });
