// Day separators and groups: consecutive messages of one author within a few minutes are shown
// as one group (the author and avatar once). Pure: no DOM.

export const GROUP_MINUTES = 5;

function pad(n) {
  return String(n).padStart(2, "0");
}

// The local calendar day of an ISO time: "2026-11-29".
export function dayKey(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// "Today", "Yesterday", or the date in the page's language.
export function dayLabel(key, { lang = "en", today = new Date(), strings = {} } = {}) {
  const [y, m, d] = key.split("-").map(Number);
  const date = new Date(y, m - 1, d);
  const start = new Date(today.getFullYear(), today.getMonth(), today.getDate());
  const days = Math.round((start - date) / 86400000);
  if (days === 0 && strings.today) return strings.today;
  if (days === 1 && strings.yesterday) return strings.yesterday;
  const options = { month: "long", day: "numeric", weekday: "short" };
  if (date.getFullYear() !== today.getFullYear()) options.year = "numeric";
  return date.toLocaleDateString(lang, options);
}

function author(msg) {
  return msg.user ? (msg.user.id != null ? `id:${msg.user.id}` : `name:${msg.user.name}`) : `sid:${msg.sid}`;
}

// For each message (in order): {day: key, newDay: a separator goes before it, grouped: it
// continues the previous message's group}.
export function layout(messages, { minutes = GROUP_MINUTES } = {}) {
  const out = [];
  let previous = null;
  for (const msg of messages) {
    const day = dayKey(msg.ts);
    const newDay = !previous || previous.day !== day;
    let grouped = false;
    if (previous && !newDay && !msg.type && !previous.msg.type && author(previous.msg) === author(msg)) {
      grouped = new Date(msg.ts) - new Date(previous.msg.ts) <= minutes * 60000;
    }
    out.push({ day, newDay, grouped });
    previous = { day, msg };
  }
  return out;
}

// Whether `msg` continues the group of `before` (a single decision, for one inserted line).
export function continues(before, msg, { minutes = GROUP_MINUTES } = {}) {
  if (!before || !msg || before.type || msg.type) return false;
  if (dayKey(before.ts) !== dayKey(msg.ts) || author(before) !== author(msg)) return false;
  const gap = new Date(msg.ts) - new Date(before.ts);
  return gap >= 0 && gap <= minutes * 60000;
}
