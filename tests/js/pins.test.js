import { test } from "node:test";
import assert from "node:assert/strict";
import { PinBoard, audibleTotal, seenMessage, visibleCounts } from "../../static/js/pins.js";

test("a room's pins are set, listed, and follow edits and deletions", () => {
  const board = new PinBoard();
  assert.deepEqual(board.list("r"), []);
  board.set("r", [{ id: 3, room: "r", text: "b" }, { id: 1, room: "r", text: "a" }, null]);
  assert.deepEqual(board.list("r").map((p) => p.id), [3, 1]);
  assert.equal(board.has("r", 1), true);
  assert.equal(board.has("s", 1), false);
  assert.equal(board.updated({ id: 1, room: "r", text: "a2" }), true);
  assert.equal(board.list("r")[1].text, "a2");
  assert.equal(board.updated({ id: 9, room: "r", text: "x" }), false);
  assert.equal(board.updated({ id: 3, room: "r", deleted: true }), true);
  assert.deepEqual(board.list("r").map((p) => p.id), [1]);
  board.set("r", "not a list");
  assert.deepEqual(board.list("r"), []);
});

test("a muted room hides its unread number but keeps its mentions", () => {
  assert.deepEqual(visibleCounts({ unread: 4, mentions: 1 }, "nothing"), { unread: 0, mentions: 1 });
  assert.deepEqual(visibleCounts({ unread: 4, mentions: 1 }, "mentions"), { unread: 4, mentions: 1 });
  assert.deepEqual(visibleCounts({ unread: 4, mentions: 0 }, undefined), { unread: 4, mentions: 0 });
});

test("seen goes under the newest own message the peer has read", () => {
  const me = { id: 1 };
  const peer = { id: 2 };
  const msgs = [
    { id: 1, user: me }, { id: 2, user: peer }, { id: 3, user: me }, { id: 4, user: me, deleted: true }, { id: 5, user: me },
  ];
  assert.equal(seenMessage(msgs, 4, 1), 3);
  assert.equal(seenMessage(msgs, 5, 1), 5);
  assert.equal(seenMessage(msgs, 2, 1), 1);
  assert.equal(seenMessage(msgs, 0, 1), null);
  assert.equal(seenMessage(msgs, null, 1), null);
  assert.equal(seenMessage(msgs, 5, null), null);
});

test("the title's total leaves muted rooms out", () => {
  const unread = { rooms: new Map([["a", { unread: 2 }], ["b", { unread: 3 }], ["c", { unread: 1 }]]) };
  const directory = new Map([["a", { notify: "nothing" }], ["b", { notify: "mentions" }]]);
  assert.equal(audibleTotal(unread, directory), 4);
  assert.equal(audibleTotal({ rooms: new Map() }, directory), 0);
});
