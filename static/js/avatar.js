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

// HSL (degrees, 0-1, 0-1) to sRGB channels 0-255.
export function hslToRgb(h, s, l) {
  const k = (n) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [f(0), f(8), f(4)].map((v) => Math.round(v * 255));
}

// WCAG 2 contrast ratio of white text on an sRGB colour.
export function contrastWithWhite([r, g, b]) {
  const lin = (c) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return 1.05 / (luminance + 0.05);
}

const MIN_CONTRAST = 4.6; // WCAG AA for the initials' small text is 4.5:1

// A hue from the id; lightness lowered until white initials reach AA contrast (greens and
// yellows need a darker shade than blues at the same HSL lightness).
export function colour(key) {
  const hue = hash(key) % 360;
  let lightness = 0.4;
  let rgb = hslToRgb(hue, 0.55, lightness);
  while (contrastWithWhite(rgb) < MIN_CONTRAST && lightness > 0.1) {
    lightness -= 0.02;
    rgb = hslToRgb(hue, 0.55, lightness);
  }
  return "#" + rgb.map((c) => c.toString(16).padStart(2, "0")).join("");
}

// The server's own avatars (/avatars/<token>.png) only.
const safePicture = avatarPath;

export function avatarFor(user, sid) {
  const name = (user && (user.display_name || user.name)) || (sid ? `guest-${String(sid).slice(0, 6)}` : "?");
  const key = user && user.id != null ? `id:${user.id}` : `name:${name}`;
  return { initials: initials(name), colour: colour(key), url: safePicture(user && user.avatar_url), name };
}
