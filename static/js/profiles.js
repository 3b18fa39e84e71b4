// Profiles on the page: what `user_updated` said last about each user, applied over the `user` of
// message payloads and the online list (a node may send a cached copy for a few seconds), and the
// profile card's pure parts. Pure: no DOM, importable in node.

// What a payload's `user` takes from user_updated (its `status` is the profile's status text: the
// online list's `status` is online/away, so that one is read with statusOf instead).
const FIELDS = ["name", "display_name", "avatar_url"];

export class Profiles {
  constructor() {
    this.known = new Map();  // user id -> the fields user_updated said last
  }

  // A user_updated payload's user; returns true when it was usable.
  learn(user) {
    if (!user || typeof user !== "object" || user.id == null) return false;
    const fields = {};
    for (const key of FIELDS) if (key in user) fields[key] = user[key];
    this.known.set(user.id, { fields, status: "status" in user ? user.status : undefined });
    return true;
  }

  // The profile status of user `id`: what user_updated said last, else `fallback`.
  statusOf(id, fallback = null) {
    const known = this.known.get(id);
    return known && known.status !== undefined ? known.status : fallback;
  }

  // The user as the page shows it: the payload's user with what user_updated said since on top.
  apply(user) {
    if (!user || user.id == null) return user;
    const known = this.known.get(user.id);
    return known ? { ...user, ...known.fields } : user;
  }
}

// The page's one registry (views read it when they draw a user).
export const profiles = new Profiles();

// An avatar is only ever loaded from the server's own /avatars/<token>.png.
export function avatarPath(url) {
  return typeof url === "string" && /^\/avatars\/[A-Za-z0-9_-]{8,128}\.png$/.test(url) ? url : null;
}

// What to show for a person: the display name first, the login name beside it when they differ.
export function personLabel(user, fallback = "?") {
  const name = user && typeof user.name === "string" && user.name ? user.name : fallback;
  const display = user && typeof user.display_name === "string" && user.display_name ? user.display_name : null;
  return { primary: display || name, secondary: display && display !== name ? name : null, name };
}

// The time now in an IANA zone ("Asia/Tokyo"), in the page's language; null when the zone is
// missing or unknown to this browser.
export function timeIn(zone, lang, now = new Date()) {
  if (typeof zone !== "string" || !zone) return null;
  try {
    return new Intl.DateTimeFormat(lang || undefined, { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit" }).format(now);
  } catch {
    return null;
  }
}

// The user id a profile card may be asked for (a positive safe integer), else null.
export function cardId(value) {
  const id = typeof value === "string" && /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : value;
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}
