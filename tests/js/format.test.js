import { test } from "node:test";
import assert from "node:assert/strict";
import { humanSize, localUrl, rebuild, safeHref } from "../../static/js/format.js";

// A minimal tree and builder: elements are {tag, attrs, children}, text is a string.
const el = (tag, attrs = {}, ...children) => ({
  nodeType: 1, tagName: tag.toUpperCase(), childNodes: children,
  getAttribute: (name) => (name in attrs ? attrs[name] : null),
});
const txt = (data) => ({ nodeType: 3, data });
const comment = (data) => ({ nodeType: 8, data });
const builder = {
  text: (data) => data,
  element: (tag) => ({ tag, children: [] }),
  link: (href) => ({ tag: "a", href, children: [] }),
  append: (parent, child) => parent.children.push(child),
};
const build = (...nodes) => rebuild({ childNodes: nodes }, { tag: "root", children: [] }, builder).children;

test("allowed elements are rebuilt without attributes", () => {
  const out = build(el("p", { class: "x", onclick: "evil()" }, el("strong", {}, txt("b")), txt(" and "), el("em", {}, txt("i"))));
  assert.deepEqual(out, [{ tag: "p", children: [{ tag: "strong", children: ["b"] }, " and ", { tag: "em", children: ["i"] }] }]);
});

test("other elements become their text; comments go", () => {
  const out = build(el("script", {}, txt("alert(1)")), el("img", { src: "x", onerror: "alert(1)" }), comment("c"), el("div", {}, el("b", {}, txt("t"))));
  assert.deepEqual(out, ["alert(1)", "", "t"]);
});

test("links keep only a safe href; unsafe ones become their text", () => {
  const out = build(
    el("a", { href: "https://example.com/a b" }, txt("ok")),
    el("a", { href: "javascript:alert(1)" }, txt("js")),
    el("a", { href: " JaVaScRiPt:alert(1)" }, txt("js2")),
    el("a", { href: "data:text/html,x" }, txt("data")),
    el("a", {}, txt("none")),
  );
  assert.deepEqual(out, [{ tag: "a", href: "https://example.com/a%20b", children: ["ok"] }, "js", "js2", "data", "none"]);
});

test("br has no children; depth is bounded", () => {
  assert.deepEqual(build(el("br", {}, txt("x"))), [{ tag: "br", children: [] }]);
  let deep = txt("deep");
  for (let i = 0; i < 50; i += 1) deep = el("em", {}, deep);
  const out = build(deep);
  let node = out[0];
  let levels = 0;
  while (typeof node === "object") { node = node.children[0]; levels += 1; }
  assert.equal(node, "deep");
  assert.equal(levels, 20);
});

test("safeHref", () => {
  assert.equal(safeHref("mailto:a@example.com"), "mailto:a@example.com");
  assert.equal(safeHref("http://x.test/"), "http://x.test/");
  assert.equal(safeHref("/relative"), null);
  assert.equal(safeHref("https://x.test/\u0000"), null);
  assert.equal(safeHref("vbscript:x"), null);
  assert.equal(safeHref(42), null);
});

test("humanSize and localUrl", () => {
  assert.equal(humanSize(12), "12 B");
  assert.equal(humanSize(2048), "2.0 KB");
  assert.equal(humanSize(200000), "195 KB");
  assert.equal(humanSize(3 * 1024 * 1024), "3.0 MB");
  assert.equal(localUrl("/uploads/a/b"), "/uploads/a/b");
  assert.equal(localUrl("https://evil.test/uploads/a"), null);
  assert.equal(localUrl(null), null);
});
