// The server's formatted HTML rebuilt through an allow-list, never given to innerHTML.
// Written against a minimal node interface so that node tests can feed it trees:
//   source nodes: {nodeType (1 element, 3 text), tagName, data, childNodes, getAttribute(name)}
//   builder: {text(data), element(tag), link(href), append(parent, child)}
// The page parses the HTML in an inert document (DOMParser) and builds with document calls.

export const ALLOWED = new Set(["p", "br", "strong", "em", "code", "pre", "a", "del", "s"]);
export const MAX_DEPTH = 20;
const SAFE_URL = /^(https?:|mailto:)/i;

// An http(s) or mailto link, normalised; anything else (javascript:, data:, relative) is null.
export function safeHref(raw) {
  if (typeof raw !== "string") return null;
  const trimmed = raw.trim();
  // eslint-disable-next-line no-control-regex -- control characters are what we refuse
  if (!trimmed || !SAFE_URL.test(trimmed) || /[\u0000-\u001f\u007f]/.test(trimmed)) return null;
  try {
    const url = new URL(trimmed);
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function textOf(node) {
  if (node.nodeType === 3) return node.data;
  if (node.nodeType !== 1) return "";
  return Array.from(node.childNodes || [], textOf).join("");
}

// Copies `from`'s children into `to`: allowed elements re-created without attributes (a link
// keeps only a safe href), text as text, anything else as its text; comments dropped.
export function rebuild(from, to, builder, depth = 0) {
  for (const node of Array.from(from.childNodes || [])) {
    if (node.nodeType === 3) {
      builder.append(to, builder.text(node.data));
      continue;
    }
    if (node.nodeType !== 1) continue;
    const tag = String(node.tagName || "").toLowerCase();
    if (!ALLOWED.has(tag) || depth >= MAX_DEPTH) {
      builder.append(to, builder.text(textOf(node)));
      continue;
    }
    if (tag === "a") {
      const href = safeHref(node.getAttribute ? node.getAttribute("href") : null);
      if (!href) {
        rebuild(node, to, builder, depth + 1);  // a link without a safe target: its text
        continue;
      }
      const link = builder.link(href);
      rebuild(node, link, builder, depth + 1);
      builder.append(to, link);
      continue;
    }
    const copy = builder.element(tag);
    if (tag !== "br") rebuild(node, copy, builder, depth + 1);
    builder.append(to, copy);
  }
  return to;
}

const UNITS = ["B", "KB", "MB", "GB"];
export function humanSize(bytes) {
  let n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  let unit = 0;
  while (n >= 1024 && unit < UNITS.length - 1) {
    n /= 1024;
    unit += 1;
  }
  return unit === 1 ? `${n.toFixed(n < 10 ? 1 : 0)} KB` : `${n.toFixed(1)} ${UNITS[unit]}`;
}

// Our own upload paths only (the server gives "/uploads/<token>/..."): never another origin.
export function localUrl(url) {
  return typeof url === "string" && url.startsWith("/uploads/") ? url : null;
}
