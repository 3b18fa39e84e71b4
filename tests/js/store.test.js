import { test } from "node:test";
import assert from "node:assert/strict";
import { Conversation, Store } from "../../static/js/store.js";

const msg = (id, extra = {}) => ({ id, room: "r", text: `m${id}`, user: { id: 1, name: "a" }, ts: "2026-01-01T10:00:00Z", ...extra });

test("messages stay ordered by id and are deduplicated", () => {
  const c = new Conversation("r");
  assert.equal(c.add(msg(3)), "added");
  assert.equal(c.add(msg(1)), "added");
  assert.equal(c.add(msg(2)), "added");
  assert.equal(c.add(msg(2)), "same");
  assert.deepEqual(c.messages.map((m) => m.id), [1, 2, 3]);
  assert.equal(c.lastId, 3);
  assert.equal(c.oldestId, 1);
});

test("a repeated payload with new text is an update; unknown ids are not", () => {
  const c = new Conversation("r");
  c.add(msg(1));
  assert.equal(c.add(msg(1, { text: "edited", edited_at: "x" })), "updated");
  assert.equal(c.get(1).text, "edited");
  assert.equal(c.update(msg(1, { deleted: true, text: "" })), true);
  assert.equal(c.update(msg(1, { deleted: true, text: "" })), false);
  assert.equal(c.update(msg(9)), false);
  assert.equal(c.has(9), false);
});

test("messages without an id are ignored", () => {
  const c = new Conversation("r");
  assert.equal(c.add({ text: "notice" }), "skipped");
  assert.equal(c.add(null), "skipped");
  assert.equal(c.messages.length, 0);
});

test("pending messages settle by ack or by their echo, once", () => {
  const c = new Conversation("r");
  c.addPending({ event: "room_message", payload: { room: "r", message: "hi", client_id: "a" } });
  c.addPending({ event: "room_message", payload: { room: "r", message: "yo", client_id: "b" } });
  assert.deepEqual(c.unacked().map((e) => e.payload.client_id), ["a", "b"]);
  const acked = c.ack("a", 10);
  assert.equal(acked.id, 10);
  assert.equal(c.ack("a", 10), null);
  c.add(msg(11, { client_id: "b" }));  // the echo before the ack
  assert.equal(c.ack("b", 11), null);
  assert.deepEqual(c.unacked(), []);
});

test("a refused message is failed and not resent", () => {
  const c = new Conversation("r");
  c.addPending({ event: "room_message", payload: { message: "x", client_id: "c" } });
  assert.equal(c.fail("c").failed, true);
  assert.deepEqual(c.unacked(), []);
});

test("catch-up asks since the newest id; a gap is seen from prev", () => {
  const c = new Conversation("r");
  assert.deepEqual(c.catchUp(), { room: "r" });
  c.add(msg(5));
  assert.deepEqual(c.catchUp(), { room: "r", since: 5 });
  assert.equal(c.gap({ id: 7, prev: 6 }), true);
  assert.equal(c.gap({ id: 6, prev: 5 }), false);
  assert.equal(c.gap({ id: 6, prev: null }), false);
  assert.deepEqual(new Conversation("").catchUp(), {});
});

test("pages: the first sets hasMore, older pages extend it, since pages do not", () => {
  const c = new Conversation("r");
  assert.deepEqual(c.page({ messages: [msg(10), msg(11)], has_more: true }), [10, 11]);
  assert.equal(c.hasMore, true);
  assert.deepEqual(c.older(50), { before: 10, limit: 50, room: "r" });
  c.page({ messages: [msg(8), msg(9)], has_more: false }, { older: true });
  assert.equal(c.hasMore, false);
  assert.equal(c.older(), null);
  c.page({ since: 11, messages: [msg(12)], has_more: true });
  assert.equal(c.hasMore, false);
  assert.deepEqual(c.messages.map((m) => m.id), [8, 9, 10, 11, 12]);
});

test("the window is bounded: reading the end drops the oldest", () => {
  const c = new Conversation("r", { limit: 3 });
  [1, 2, 3, 4, 5].forEach((id) => c.add(msg(id)));
  assert.deepEqual(c.trim("newest"), [1, 2]);
  assert.deepEqual(c.messages.map((m) => m.id), [3, 4, 5]);
  assert.equal(c.hasMore, true);
  assert.equal(c.oldestId, 3);
  assert.equal(c.has(1), false);
});

test("reading back drops the newest; live news then waits until the reader comes back", () => {
  const c = new Conversation("r", { limit: 3 });
  [4, 5, 6].forEach((id) => c.add(msg(id)));
  c.hasMore = true;
  c.page({ messages: [msg(2), msg(3)], has_more: true }, { older: true });
  assert.deepEqual(c.trim("oldest"), [5, 6]);
  assert.equal(c.atLatest, false);
  assert.equal(c.add(msg(7)), "skipped");
  assert.equal(c.lastId, 7);
  assert.deepEqual(c.messages.map((m) => m.id), [2, 3, 4]);
  c.reset();
  assert.equal(c.atLatest, true);
  assert.equal(c.messages.length, 0);
  assert.equal(c.lastId, 7);
});

test("lastOwn finds the newest own message that is not deleted", () => {
  const c = new Conversation("r");
  c.add(msg(1));
  c.add(msg(2, { user: { id: 2, name: "b" } }));
  c.add(msg(3, { deleted: true }));
  assert.equal(c.lastOwn(1).id, 1);
  assert.equal(c.lastOwn(3), null);
  assert.equal(c.lastOwn(null), null);
});

test("the store keeps one conversation per room, '' for everyone", () => {
  const s = new Store();
  assert.equal(s.get(""), s.get(null));
  assert.notEqual(s.get("a"), s.get(""));
  s.drop("a");
  assert.equal(s.conversations.has("a"), false);
});
