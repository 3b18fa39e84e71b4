import { test } from "node:test";
import assert from "node:assert/strict";
import { displayName, fill, noticeText } from "../../static/js/notices.js";

const ja = { notice_join: "{user} がルーム {room} に参加しました", notice_leave: "{user} がルーム {room} から退出しました" };
const en = { notice_join: "{user} joined {room}", notice_leave: "{user} left {room}" };
const seed = "クライアント abc がルーム r に参加しました";

test("notices are written in the page's language from type, user and room", () => {
  const join = { type: "join", user: { id: 1, name: "alice" }, room: "lobby", sid: "abcdef123", data: seed };
  assert.equal(noticeText(join, ja), "alice がルーム lobby に参加しました");
  assert.equal(noticeText(join, en), "alice joined lobby");
  assert.equal(noticeText({ ...join, type: "leave" }, en), "alice left lobby");
});

test("a client without a session is named like the server names it; display names win", () => {
  assert.equal(noticeText({ type: "join", user: null, room: "r", sid: "abcdef123" }, en), "guest-abcdef joined r");
  assert.equal(displayName({ name: "a", display_name: "Alice A." }), "Alice A.");
  assert.equal(displayName(null, null), "?");
});

test("anything else is no notice; text stays text", () => {
  assert.equal(noticeText({ data: seed }, ja), null);
  assert.equal(noticeText(null, ja), null);
  assert.equal(noticeText({ type: "join", user: { name: "{room}" }, room: "<b>" }, en), "{room} joined <b>");
  assert.equal(fill("{a}-{b}", { a: 1 }), "1-");
});
