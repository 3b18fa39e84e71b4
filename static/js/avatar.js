// Avatars: the user's picture when there is one, else initials on a colour derived from the
// user's id (or name). Pure: no DOM.

import { avatarPath } from "./profiles.js";

function firstGrapheme(text) {
  if (typeof Intl !== "undefined" && Intl.Segmenter) {
    for (const { segment } of new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text)) return segment;
  }
  return Array.from(text)[0] || "";
}

export function initials(name) {
  const words = String(name || "").trim().split(/[\s._-]+/u).filter(Boolean);
  if (!words.length) return "?";
  const first = firstGrapheme(words[0]).toLocaleUpperCase();
  if (words.length > 1 && /^[\p{Script=Latin}]/u.test(words[1])) return first + firstGrapheme(words[1]).toLocaleUpperCase();
  return first;
}

// A stable hash of a string (FNV-1a, 32 bits).
export function hash(text) {
  let h = 0x811c9dc5;
  for (const ch of String(text)) {
    h ^= ch.codePointAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

// A hue from the id; saturation and lightness chosen so that white initials stay readable.
export function colour(key) {
  return `hsl(${hash(key) % 360} 55% 38%)`;
}

// The server's own avatars (/avatars/<token>.png) only.
const safePicture = avatarPath;

export function avatarFor(user, sid) {
  const name = (user && (user.display_name || user.name)) || (sid ? `guest-${String(sid).slice(0, 6)}` : "?");
  const key = user && user.id != null ? `id:${user.id}` : `name:${name}`;
  return { initials: initials(name), colour: colour(key), url: safePicture(user && user.avatar_url), name };
}
