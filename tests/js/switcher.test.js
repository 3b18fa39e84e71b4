import { test } from "node:test";
import assert from "node:assert/strict";
import { normalise, rank, score } from "../../static/js/switcher.js";

const items = [
  { key: "general", label: "general", kind: "room" },
  { key: "gen-art", label: "generative-art", kind: "room", unread: 2 },
  { key: "dm:1:2", label: "@gene", kind: "dm" },
  { key: "p:3", label: "@agnes", kind: "person" },
  { key: "random", label: "random", kind: "room" },
];

test("exact and prefix matches first, then word starts, substrings, subsequences", () => {
  assert.deepEqual(rank(items, "gene").map((i) => i.key), ["dm:1:2", "general", "gen-art"]);
  assert.deepEqual(rank(items, "art").map((i) => i.key), ["gen-art"]);
  assert.deepEqual(rank(items, "gnrl").map((i) => i.key), ["general"]);
  assert.deepEqual(rank(items, "zzz"), []);
});

test("an empty query lists everything, unread first, rooms before people", () => {
  assert.deepEqual(rank(items, "").map((i) => i.key), ["gen-art", "general", "random", "dm:1:2", "p:3"]);
  assert.equal(rank(items, "", { limit: 2 }).length, 2);
});

test("width and case do not matter; # and @ are ignored", () => {
  assert.equal(normalise("＃ＧＥＮ"), "gen");
  assert.ok(score("general", "ＧＥＮ") > 0);
  assert.ok(score("@gene", "@ge") >= 80 - 1);
});
