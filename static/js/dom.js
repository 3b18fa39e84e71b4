// Small DOM helpers: elements are built with properties and textContent only.

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("aria-") || key === "role") node.setAttribute(key, value === true ? "true" : String(value));
    else node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}

export function button(className, label, text, props = {}) {
  return el("button", { type: "button", className, "aria-label": label, title: label, text, ...props });
}

// The server's formatted HTML parsed in an inert document (no script runs, nothing loads), as
// the source tree for format.js's rebuild; the builder makes real elements.
export const domBuilder = {
  text: (data) => document.createTextNode(data),
  element: (tag) => document.createElement(tag),
  link: (href) => el("a", { href, rel: "noopener noreferrer", target: "_blank" }),
  append: (parent, child) => parent.append(child),
};

export function parseHtml(html) {
  return new DOMParser().parseFromString(String(html), "text/html").body;
}

export function localTime(iso, lang, long = false) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return long ? date.toLocaleString(lang) : date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
}
