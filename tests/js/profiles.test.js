import { test } from "node:test";
import assert from "node:assert/strict";
import { Profiles, avatarPath, cardId, personLabel, timeIn } from "../../static/js/profiles.js";

test("user_updated's fields go over a payload's user; other users untouched", () => {
  const p = new Profiles();
  const payloadUser = { id: 3, name: "alice", display_name: "Old", avatar_url: null };
  assert.equal(p.apply(payloadUser), payloadUser);
  assert.equal(p.learn({ id: 3, name: "alice", display_name: "New", avatar_url: "/avatars/abcdefgh.png", status: "🍵", guest: false }), true);
  assert.deepEqual(p.apply(payloadUser), { id: 3, name: "alice", display_name: "New", avatar_url: "/avatars/abcdefgh.png" });
  assert.deepEqual(p.apply({ id: 4, name: "bob" }), { id: 4, name: "bob" });
  assert.equal(p.apply(null), null);
  assert.deepEqual(p.apply({ id: null, name: "guest-1" }), { id: null, name: "guest-1" });
});

test("the profile status is kept apart from the online list's online/away", () => {
  const p = new Profiles();
  const online = { id: 3, name: "alice", status: "away", status_text: "old" };
  assert.equal(p.statusOf(3, online.status_text), "old");
  p.learn({ id: 3, name: "alice", status: null });
  assert.equal(p.apply(online).status, "away");
  assert.equal(p.statusOf(3, online.status_text), null);  // cleared since
  p.learn({ id: 3, name: "alice" });
  assert.equal(p.statusOf(3, "fallback"), "fallback");
});

test("learn ignores what is no user", () => {
  const p = new Profiles();
  for (const bad of [null, undefined, "x", 5, {}, { id: null }]) assert.equal(p.learn(bad), false);
  assert.equal(p.known.size, 0);
});

test("avatars load from /avatars/ only", () => {
  assert.equal(avatarPath("/avatars/Abc_def-123456.png"), "/avatars/Abc_def-123456.png");
  for (const bad of [
    "https://evil.test/a.png", "//evil.test/avatars/abcdefgh.png", "/uploads/abcdefgh.png", "/avatars/../x.png",
    "/avatars/abcdefgh.png?x", "javascript:alert(1)", "/avatars/abc\u202edefgh.png", null, 7, "",
  ]) assert.equal(avatarPath(bad), null, String(bad));
});

test("personLabel: the display name first, the login name beside it when different", () => {
  assert.deepEqual(personLabel({ name: "bob", display_name: "Robert" }), { primary: "Robert", secondary: "bob", name: "bob" });
  assert.deepEqual(personLabel({ name: "bob", display_name: null }), { primary: "bob", secondary: null, name: "bob" });
  assert.deepEqual(personLabel({ name: "bob", display_name: "bob" }), { primary: "bob", secondary: null, name: "bob" });
  assert.deepEqual(personLabel(null, "…"), { primary: "…", secondary: null, name: "…" });
  const hostile = "<img src=x onerror=alert(1)>\u202e";
  assert.equal(personLabel({ name: "eve", display_name: hostile }).primary, hostile);  // text, shown with textContent
});

test("timeIn: the time in an IANA zone, null for none or an unknown one", () => {
  const now = new Date("2026-01-02T03:04:00Z");
  assert.match(timeIn("Asia/Tokyo", "en", now), /12:04/);
  assert.match(timeIn("UTC", "en", now), /03:04/);
  assert.equal(timeIn("Mars/Olympus", "en", now), null);
  assert.equal(timeIn(null, "en", now), null);
  assert.equal(timeIn("", "en", now), null);
});

test("cardId: positive safe integers only", () => {
  assert.equal(cardId("12"), 12);
  assert.equal(cardId(12), 12);
  for (const bad of ["0", "-1", "1e3", "12a", "", "99999999999999999", 0, -3, 1.5, null, undefined]) assert.equal(cardId(bad), null, String(bad));
});
