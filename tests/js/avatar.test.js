import { test } from "node:test";
import assert from "node:assert/strict";
import { avatarFor, colour, contrastWithWhite, hslToRgb, initials } from "../../static/js/avatar.js";

test("initials: one or two letters, graphemes kept whole", () => {
  assert.equal(initials("alice"), "A");
  assert.equal(initials("alice-bob"), "AB");
  assert.equal(initials("山田 太郎"), "山");
  assert.equal(initials("👩‍💻 dev"), "👩‍💻D");
  assert.equal(initials(""), "?");
});

test("the colour is derived from the id, stable", () => {
  assert.equal(colour("id:1"), colour("id:1"));
  assert.notEqual(colour("id:1"), colour("id:2"));
  assert.match(colour("id:1"), /^#[0-9a-f]{6}$/);
});

test("white initials reach WCAG AA (4.5:1) on every hue", () => {
  assert.deepEqual(hslToRgb(0, 1, 0.5), [255, 0, 0]);
  assert.deepEqual(hslToRgb(120, 1, 0.25), [0, 128, 0]);
  assert.ok(contrastWithWhite([0, 0, 0]) > 20.9 && contrastWithWhite([255, 255, 255]) === 1);
  for (let id = 0; id < 2000; id++) {
    const hex = colour(`id:${id}`);
    const rgb = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    assert.ok(contrastWithWhite(rgb) >= 4.5, `${hex} for id ${id}: ${contrastWithWhite(rgb).toFixed(2)}`);
  }
});

test("avatarFor uses display_name and avatar_url when present, only safe pictures", () => {
  const a = avatarFor({ id: 7, name: "bob", display_name: "Robert Smith", avatar_url: "/avatars/Abc_def-123456.png" });
  assert.equal(a.initials, "RS");
  assert.equal(a.url, "/avatars/Abc_def-123456.png");
  assert.equal(avatarFor({ id: 7, name: "bob", avatar_url: "/uploads/x/a.png" }).url, null);  // avatars only
  assert.equal(avatarFor({ id: 7, name: "bob", avatar_url: "https://evil.test/a.png" }).url, null);
  assert.equal(a.colour, colour("id:7"));
  assert.equal(avatarFor({ id: 7, name: "bob", avatar_url: "javascript:alert(1)" }).url, null);
  assert.equal(avatarFor({ id: 7, name: "bob", avatar_url: "//evil.test/a.png" }).url, null);
  assert.equal(avatarFor(null, "abcdef99").name, "guest-abcdef");
});
