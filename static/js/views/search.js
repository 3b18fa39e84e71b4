// Search: the results region above the log; a hit opens its conversation at the message.

import { $, el, localTime } from "../dom.js";
import { displayName, fill } from "../notices.js";

function excerpt(text, query) {
  const out = el("span", { className: "excerpt" });
  const short = text.length > 160 ? `${text.slice(0, 157)}…` : text;
  const lower = short.toLowerCase();
  const needle = query.toLowerCase();
  let from = 0;
  for (let at = lower.indexOf(needle); needle && at !== -1; at = lower.indexOf(needle, from)) {
    out.append(short.slice(from, at), el("mark", { text: short.slice(at, at + needle.length) }));
    from = at + needle.length;
  }
  out.append(short.slice(from));
  return out;
}

export class SearchView {
  constructor(ctx, { onSearch, onOpen, roomName }) {
    this.ctx = ctx;
    this.els = {
      form: $("search-form"), input: $("search-input"), results: $("search-results"),
      summary: $("search-summary"), list: $("search-list"), close: $("search-close"),
    };
    this.seq = 0;  // a reply to a search closed or replaced meanwhile is not shown
    this.onOpen = onOpen;
    this.roomName = roomName;
    const { els } = this;
    els.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const q = els.input.value.trim();
      if (!q) {
        this.close(false);
        return;
      }
      const seq = ++this.seq;
      onSearch(q, (results) => {
        if (seq === this.seq) this.show(q, results);
      });
    });
    els.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.isComposing || event.keyCode === 229)) event.preventDefault();
    });
    for (const area of [els.form, els.results]) {
      area.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && !els.results.hidden) {
          event.preventDefault();
          this.close(true);
        }
      });
    }
    els.close.addEventListener("click", () => this.close(true));
  }

  show(q, results) {
    const { els, ctx } = this;
    els.list.replaceChildren(...results.map((msg) => this.hit(msg, q)));
    els.summary.textContent = results.length ? fill(ctx.t.search_count, { count: results.length, q }) : fill(ctx.t.no_results, { q });
    els.results.hidden = false;
  }

  hit(msg, q) {
    const { t, lang } = this.ctx;
    const open = el("button", { type: "button", className: "search-hit", dataset: { id: String(msg.id) } },
      el("span", { className: "author", text: displayName(msg.user, msg.sid) }),
      el("span", { className: "where", text: msg.room ? `# ${this.roomName(msg.room)}` : t.everyone }),
      el("time", { dateTime: msg.ts, text: localTime(msg.ts, lang, true) }),
      excerpt(msg.text || (msg.file ? msg.file.name : ""), q));
    open.addEventListener("click", () => this.onOpen(msg));
    return el("li", {}, open);
  }

  close(refocus) {
    const { els } = this;
    this.seq += 1;
    els.results.hidden = true;
    els.list.textContent = "";
    els.summary.textContent = "";
    if (refocus) els.input.focus();
  }
}
