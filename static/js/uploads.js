// Uploads: POST /api/uploads with the CSRF token, a progress line in the log until the
// message arrives, the server's refusal shown on the line and in the errors area.

import { el } from "./dom.js";
import { fill } from "./notices.js";
import { humanSize } from "./format.js";

export function newClientId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);  // works on plain http too, unlike crypto.randomUUID
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Uploads {
  constructor(ctx, { log, socketId, onStored, showError }) {
    this.ctx = ctx;
    this.log = log;
    this.socketId = socketId;
    this.onStored = onStored;
    this.showError = showError;
    this.lines = new Map();  // client_id -> the progress line
  }

  errorText(status, body) {
    const { t, settings } = this.ctx;
    if (status === 413) return fill(t.too_large, { max: humanSize(settings.maxUploadSize) });
    if (status === 415) return t.type_refused;
    if (body && body.error && body.error.message) return body.error.message;
    return t.upload_failed + (status ? ` (${status})` : "");
  }

  line(file, room) {
    const { t } = this.ctx;
    const item = el("li", { role: "article", className: `message ${room ? "room" : "global"} pending upload` });
    const bar = el("progress", { max: 100, value: 0, "aria-label": fill(t.uploading_name, { name: file.name }) });
    item.append(el("span", { className: "avatar", "aria-hidden": "true", text: "📎" }),
      el("div", { className: "body" }, el("span", { className: "text", text: `📎 ${file.name} (${humanSize(file.size)})` }),
        bar, el("span", { className: "state", text: t.uploading })));
    return item;
  }

  fail(item, clientId, message) {
    this.lines.delete(clientId);
    item.classList.remove("pending");
    item.classList.add("failed");
    item.querySelector("progress")?.remove();
    item.querySelector(".state").textContent = `${this.ctx.t.upload_failed}: ${message}`;
    this.showError({ message });
  }

  // The stored message of one of our uploads arrived: its progress line goes.
  settled(clientId) {
    const item = this.lines.get(clientId);
    if (!item) return false;
    this.lines.delete(clientId);
    item.remove();
    return true;
  }

  send(file, room, caption, restoreCaption) {
    const { settings } = this.ctx;
    const clientId = newClientId();
    const item = this.line(file, room);
    this.log.append(item);
    if (settings.maxUploadSize && file.size > settings.maxUploadSize) {
      this.fail(item, clientId, this.errorText(413));
      return;
    }
    this.lines.set(clientId, item);
    const form = new FormData();
    form.append("file", file, file.name);
    if (room) form.append("room", room);
    if (caption) form.append("message", caption);
    form.append("client_id", clientId);
    if (this.socketId()) form.append("sid", this.socketId());
    // XMLHttpRequest, not fetch: it reports the upload's progress.
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/uploads");
    xhr.setRequestHeader("X-CSRFToken", settings.csrfToken);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      const bar = item.querySelector("progress");
      if (bar && event.lengthComputable) bar.value = Math.round((100 * event.loaded) / event.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status === 201 && body && body.message) {
        if (this.settled(clientId)) this.onStored(body.message);
        return;
      }
      if (caption) restoreCaption(caption);
      this.fail(item, clientId, this.errorText(xhr.status, body));
    });
    xhr.addEventListener("error", () => this.fail(item, clientId, this.ctx.t.upload_failed));
    xhr.send(form);
  }
}
