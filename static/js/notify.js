// Desktop notifications, the pure part: which live message deserves one (as the user's level for
// its conversation says), its title and excerpt, and the list of message ids some tab already
// handled (kept in localStorage so that only one tab of the browser notifies).

export const RECENT_MAX = 200;

// A conversation's kind: from list_rooms when known, else by its name (only DMs are "dm:…",
// the server reserves that prefix): a new DM arrives before the sidebar lists it.
export function kindOf(room, kind) {
  return kind || (String(room ?? "").startsWith("dm:") ? "dm" : "room");
}

// level: "all" | "mentions" | "nothing" (the room's `notify` from list_rooms); kind: "dm" | "room".
export function shouldNotify(msg, meId, { level, kind } = {}) {
  if (!msg || msg.id == null || msg.type || msg.deleted || !msg.room) return false;
  if (msg.user && msg.user.id != null && msg.user.id === meId) return false;
  const wanted = level || (kindOf(msg.room, kind) === "dm" ? "all" : "mentions");
  if (wanted === "nothing") return false;
  if (wanted === "all") return true;
  return Array.isArray(msg.mentions) && meId != null && msg.mentions.includes(meId);
}

export function excerpt(text, limit = 140) {
  const flat = String(text ?? "").replace(/\s+/g, " ").trim();
  const chars = Array.from(flat);  // never cut a surrogate pair in two
  return chars.length <= limit ? flat : `${chars.slice(0, limit - 1).join("")}…`;
}

// "alice" for a DM, "alice · #general" for a room.
export function titleOf(msg, kind, roomLabel) {
  const sender = (msg.user && (msg.user.display_name || msg.user.name)) || "";
  return kindOf(msg.room, kind) === "dm" ? sender : `${sender} · #${roomLabel || msg.room}`;
}

export function bodyOf(msg, limit) {
  if (msg.text) return excerpt(msg.text, limit);
  return msg.file && msg.file.name ? `📎 ${msg.file.name}` : "";
}

// Parse the stored list (anything unreadable counts as empty).
export function readRecent(raw) {
  try {
    const list = JSON.parse(raw || "[]");
    return Array.isArray(list) ? list.filter((id) => Number.isSafeInteger(id)) : [];
  } catch {
    return [];
  }
}

// [first, list]: first is true when no tab handled `id` yet; list now holds it (newest last).
export function claim(list, id, max = RECENT_MAX) {
  if (list.includes(id)) return [false, list];
  const next = [...list, id];
  return [true, next.length > max ? next.slice(next.length - max) : next];
}

// The conversation a notification's URL ("/?room=…") opens, or null.
export function roomFromSearch(search) {
  const room = new URLSearchParams(search || "").get("room");
  return room === null ? null : room;
}
