import { test } from "node:test";
import assert from "node:assert/strict";
import { Unread, mentions, newMessagesLine, step, title } from "../../static/js/unread.js";

const from = (id, userId, extra = {}) => ({ id, room: "r", user: { id: userId, name: `u${userId}` }, text: "hi", ...extra });

test("the directory sets the counts; live messages from others add to them", () => {
  const u = new Unread(1);
  u.fromDirectory([{ name: "r", unread: 2, mentions: 0, last_read_id: 5 }, { name: "s", unread: 0 }]);
  assert.deepEqual(u.counts("r"), { unread: 2, mentions: 0 });
  assert.equal(u.message(from(6, 2, { mentions: [1] })), true);
  assert.deepEqual(u.counts("r"), { unread: 3, mentions: 1 });
  assert.equal(u.message(from(7, 1)), false);  // one's own
  assert.equal(u.message(from(4, 2)), false);  // already read
  assert.equal(u.message(from(8, 2), { reading: true }), false);
  assert.equal(u.message({ id: 9, room: "r", type: "join" }), false);
  assert.equal(u.message({ id: 9, room: null }), false);  // the global channel counts nothing
  assert.equal(u.total(), 3);
  assert.equal(u.favicon(), "dot");
});

test("read clears the counts and moves the mark forward only", () => {
  const u = new Unread(1);
  u.fromDirectory([{ name: "r", unread: 2, mentions: 1, last_read_id: 5 }]);
  assert.equal(u.read("r", 9), true);
  assert.deepEqual(u.counts("r"), { unread: 0, mentions: 0 });
  u.read("r", 7);
  assert.equal(u.room("r").lastReadId, 9);
  assert.equal(u.read("r", 10), false);
  assert.equal(u.favicon(), "plain");
});

test("the directory never moves a read mark back", () => {
  const u = new Unread(1);
  u.fromDirectory([{ name: "r", unread: 0, last_read_id: 5 }]);
  u.read("r", 9);
  u.fromDirectory([{ name: "r", unread: 0, last_read_id: 5 }]);
  assert.equal(u.room("r").lastReadId, 9);
  u.fromDirectory([{ name: "r", unread: 0, last_read_id: null }]);
  assert.equal(u.room("r").lastReadId, 9);
});

test("rooms gone from the directory are forgotten", () => {
  const u = new Unread(1);
  u.fromDirectory([{ name: "r", unread: 1 }]);
  u.fromDirectory([]);
  assert.equal(u.total(), 0);
});

test("the title carries the count", () => {
  assert.equal(title("Chat", 0), "Chat");
  assert.equal(title("チャット", 3), "(3) チャット");
});

test("mentions: ids when listed, else @name in the text, case-insensitive", () => {
  assert.equal(mentions({ mentions: [1] }, 1), true);
  assert.equal(mentions({ mentions: [] , text: "@bob" }, 1, "bob"), false);
  assert.equal(mentions({ text: "hi @Bob!" }, 1, "bob!"), true);
  assert.equal(mentions({ text: "hi @Bobby" }, 1, "bob"), false);
  assert.equal(mentions({ text: "@bob" }, null, "bob"), false);
});

test("the new-messages line goes before the first unread message from someone else", () => {
  const list = [from(1, 2), from(2, 1), from(3, 1), from(4, 2)];
  assert.equal(newMessagesLine(list, 1, 1), 4);
  assert.equal(newMessagesLine(list, 0, 1), 1);
  assert.equal(newMessagesLine(list, 4, 1), null);
  assert.equal(newMessagesLine(list, null, 1), null);
});

test("step: previous and next room, wrapping; next unread skips read rooms", () => {
  const order = ["", "a", "b", "c"];
  assert.equal(step(order, "a", 1), "b");
  assert.equal(step(order, "", -1), "c");
  assert.equal(step(order, "c", 1), "");
  assert.equal(step(order, "x", 1), "");
  const u = new Unread(1);
  u.fromDirectory([{ name: "a", unread: 0 }, { name: "b", unread: 0 }, { name: "c", unread: 2 }]);
  assert.equal(step(order, "a", 1, u), "c");
  assert.equal(step(order, "a", -1, u), "c");
  assert.equal(step(order, "c", 1, u), null);
  assert.equal(step([], "a", 1), null);
});
