// Join and leave notices in the page's language, from the payload's `type`, `user` and `room`
// (the seed's Japanese `data` string stays on the wire, unread here). Pure: no DOM.

export function fill(template, values) {
  return String(template).replace(/\{(\w+)\}/g, (_, key) => (values[key] ?? "").toString());
}

export function displayName(user, sid) {
  if (user && user.display_name) return user.display_name;
  if (user && user.name) return user.name;
  return sid ? `guest-${String(sid).slice(0, 6)}` : "?";
}

// The notice's text, or null when the payload is no notice.
export function noticeText(payload, strings) {
  if (!payload || (payload.type !== "join" && payload.type !== "leave")) return null;
  const template = payload.type === "join" ? strings.notice_join : strings.notice_leave;
  return fill(template, { user: displayName(payload.user, payload.sid), room: payload.room || "" });
}
