// Rich message parts, built with DOM calls only: the server's formatting (rebuilt through an
// allow-list, never given to innerHTML), attached files, and file sizes.
(function () {
  "use strict";

  // What the server's formatting may produce; anything else is shown as its text.
  const ALLOWED = new Set(["p", "br", "strong", "em", "code", "pre", "a", "del", "s"]);
  const SAFE_URL = /^(https?:|mailto:)/i;
  const MAX_DEPTH = 20;

  function safeHref(raw) {
    if (!raw || !SAFE_URL.test(raw.trim())) return null;
    try {
      const url = new URL(raw.trim());
      return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
    } catch (err) {
      return null;
    }
  }

  function copyChildren(from, to, depth) {
    from.childNodes.forEach((node) => {
      if (node.nodeType === Node.TEXT_NODE) { to.append(document.createTextNode(node.data)); return; }
      if (node.nodeType !== Node.ELEMENT_NODE) return;  // comments, processing instructions
      const tag = node.tagName.toLowerCase();
      if (!ALLOWED.has(tag) || depth > MAX_DEPTH) { to.append(document.createTextNode(node.textContent)); return; }
      if (tag === "a") {
        const href = safeHref(node.getAttribute("href"));
        if (!href) { copyChildren(node, to, depth + 1); return; }  // a link without a safe target: its text
        const link = document.createElement("a");
        link.href = href;
        link.rel = "noopener noreferrer";
        link.target = "_blank";
        copyChildren(node, link, depth + 1);
        to.append(link);
        return;
      }
      const copy = document.createElement(tag);
      if (tag !== "br") copyChildren(node, copy, depth + 1);
      to.append(copy);
    });
  }

  // The server's sanitized HTML, parsed in an inert document (no script runs, nothing loads)
  // and re-created element by element from the allow-list, attributes dropped except a safe href.
  function formatted(html) {
    const parsed = new DOMParser().parseFromString(String(html), "text/html");
    const fragment = document.createDocumentFragment();
    copyChildren(parsed.body, fragment, 0);
    return fragment;
  }

  function humanSize(bytes) {
    const n = Number(bytes) || 0;
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10 * 1024 ? 1 : 0) + " KB";
    return (n / (1024 * 1024)).toFixed(1) + " MB";
  }

  // Our own upload paths only (the server gives "/uploads/<token>/..."): never another origin.
  function localUrl(url) {
    return typeof url === "string" && url.startsWith("/uploads/") ? url : null;
  }

  const THUMB_MAX = 320;  // the server's thumbnails fit in this square

  // An image as a thumbnail linking to the file, sized before it loads; other files as a link.
  function fileBlock(file, t) {
    const box = document.createElement("div");
    box.className = "file";
    const url = localUrl(file.url);
    if (!url) return box;
    const link = document.createElement("a");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    const thumb = localUrl(file.thumb_url) || (file.image ? url : null);
    if (file.image && thumb) {
      const img = document.createElement("img");
      img.alt = file.name;
      img.decoding = "async";
      if (file.width && file.height) {
        const scale = Math.min(1, THUMB_MAX / Math.max(file.width, file.height));
        img.width = Math.max(1, Math.round(file.width * scale));
        img.height = Math.max(1, Math.round(file.height * scale));
      }
      img.src = thumb;
      link.className = "thumb";
      link.title = file.name + " (" + humanSize(file.size) + ")";
      link.setAttribute("aria-label", t.open_image + ": " + link.title);
      link.append(img);
    } else {
      link.className = "download";
      link.download = file.name;
      link.textContent = "📄 " + file.name + " (" + humanSize(file.size) + ")";
      link.setAttribute("aria-label", t.download + ": " + file.name + " (" + humanSize(file.size) + ")");
    }
    box.append(link);
    return box;
  }

  window.chatRich = { formatted, fileBlock, humanSize, safeHref };
})();
