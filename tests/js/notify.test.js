import { test } from "node:test";
import assert from "node:assert/strict";
import { bodyOf, claim, excerpt, readRecent, roomFromSearch, shouldNotify, titleOf } from "../../static/js/notify.js";

const me = 2;
const msg = (extra) => ({ id: 10, room: "general", user: { id: 1, name: "alice" }, text: "hi", ...extra });

test("DMs notify by default, rooms only when they mention me", () => {
  assert.equal(shouldNotify(msg({ room: "dm:1:2" }), me, { kind: "dm" }), true);
  assert.equal(shouldNotify(msg(), me, { kind: "room" }), false);
  assert.equal(shouldNotify(msg({ mentions: [2] }), me, { kind: "room" }), true);
  assert.equal(shouldNotify(msg({ mentions: [3] }), me, { kind: "room" }), false);
  assert.equal(shouldNotify(msg({ room: "dm:1:2" }), me), true);  // a new DM, not listed yet
  assert.equal(shouldNotify(msg(), me), false);
});

test("the user's level wins: all, mentions, nothing", () => {
  assert.equal(shouldNotify(msg(), me, { kind: "room", level: "all" }), true);
  assert.equal(shouldNotify(msg({ room: "dm:1:2" }), me, { kind: "dm", level: "mentions" }), false);
  assert.equal(shouldNotify(msg({ mentions: [2] }), me, { kind: "room", level: "nothing" }), false);
});

test("never for my own messages, notices, deletions, or messages to everyone", () => {
  assert.equal(shouldNotify(msg({ user: { id: 2, name: "me" } }), me, { level: "all" }), false);
  assert.equal(shouldNotify(msg({ type: "join" }), me, { level: "all" }), false);
  assert.equal(shouldNotify(msg({ deleted: true }), me, { level: "all" }), false);
  assert.equal(shouldNotify(msg({ room: null }), me, { level: "all" }), false);
  assert.equal(shouldNotify(msg({ id: null }), me, { level: "all" }), false);
  assert.equal(shouldNotify(null, me, { level: "all" }), false);
});

test("excerpts: whitespace folded, cut with an ellipsis, surrogate pairs whole", () => {
  assert.equal(excerpt("  a\n\n b\tc "), "a b c");
  assert.equal(excerpt("abcdef", 4), "abc…");
  assert.equal(excerpt("😀😀😀😀😀", 3), "😀😀…");
  assert.equal(excerpt(undefined), "");
});

test("title and body", () => {
  assert.equal(titleOf(msg(), "dm"), "alice");
  assert.equal(titleOf(msg({ user: { id: 1, name: "alice", display_name: "Alice A" } }), "room"), "Alice A · #general");
  assert.equal(bodyOf(msg({ text: "", file: { name: "a.png" } })), "📎 a.png");
});

test("claims: the first tab wins, the list stays bounded, junk reads as empty", () => {
  let [first, list] = claim([], 5);
  assert.equal(first, true);
  [first, list] = claim(list, 5);
  assert.equal(first, false);
  for (let id = 0; id < 300; id++) [, list] = claim(list, 1000 + id, 100);
  assert.equal(list.length, 100);
  assert.equal(list.at(-1), 1299);
  assert.deepEqual(readRecent("{bad json"), []);
  assert.deepEqual(readRecent('[1, "x", 2.5, 3]'), [1, 3]);
});

test("the room a notification's URL opens", () => {
  assert.equal(roomFromSearch("?room=dm%3A1%3A2"), "dm:1:2");
  assert.equal(roomFromSearch("?room="), "");
  assert.equal(roomFromSearch(""), null);
});
