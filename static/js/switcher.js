// The quick switcher's filtering and ranking (rooms, direct conversations, people). Pure.

export function normalise(text) {
  return String(text || "").normalize("NFKC").toLowerCase().replace(/^[#@]/, "");
}

// How well `label` matches `query`: higher is better, 0 is no match.
export function score(label, query) {
  const name = normalise(label);
  const q = normalise(query).trim();
  if (!q) return 1;
  if (name === q) return 100;
  if (name.startsWith(q)) return 80 - Math.min(20, name.length - q.length) / 10;
  const words = name.split(/[\s._:-]+/u);
  if (words.some((word) => word.startsWith(q))) return 60;
  const at = name.indexOf(q);
  if (at !== -1) return 40 - Math.min(10, at) / 10;
  // The letters in order (a subsequence): "gnrl" finds "general".
  let from = 0;
  for (const ch of q) {
    const found = name.indexOf(ch, from);
    if (found === -1) return 0;
    from = found + ch.length;
  }
  return 10;
}

const KIND_ORDER = { unread: 0, room: 1, dm: 2, person: 3 };

// items: [{key, label, kind: "room"|"dm"|"person", unread?}] → the matches, best first (at most `limit`).
export function rank(items, query, { limit = 20 } = {}) {
  return items
    .map((item, order) => ({ item, order, score: score(item.label, query) }))
    .filter((entry) => entry.score > 0)
    .sort((a, b) => b.score - a.score
      || (b.item.unread > 0) - (a.item.unread > 0)
      || (KIND_ORDER[a.item.kind] ?? 9) - (KIND_ORDER[b.item.kind] ?? 9)
      || a.order - b.order)
    .slice(0, limit)
    .map((entry) => entry.item);
}
