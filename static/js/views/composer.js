// The composer: a textarea that grows to about 8 lines; Enter sends, Shift+Enter is a new line,
// an Enter inside an IME composition only commits it; ↑ in an empty composer edits one's last
// message; Esc clears; pasted or dropped files are uploaded.

import { $ } from "../dom.js";

const MAX_LINES = 8;

export function imeEnter(event) {
  return event.isComposing || event.keyCode === 229;
}

export class Composer {
  constructor(ctx, { onSend, onTyping, onEditLast, onFiles }) {
    this.input = $("message-input");
    this.form = $("message-form");
    this.fileInput = $("file-input");
    this.input.maxLength = ctx.settings.maxMessageLength;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      onSend();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        if (imeEnter(event)) {
          event.preventDefault();
          return;
        }
        if (event.shiftKey || event.altKey) return;
        event.preventDefault();
        onSend();
        return;
      }
      if (event.key === "ArrowUp" && !this.input.value && !event.altKey && !event.shiftKey) {
        if (onEditLast()) event.preventDefault();
        return;
      }
      if (event.key === "Escape" && this.input.value) {
        event.preventDefault();
        this.clear();
      }
    });
    this.input.addEventListener("input", () => {
      this.grow();
      if (this.input.value) onTyping();
    });
    this.input.addEventListener("paste", (event) => {
      const files = event.clipboardData && Array.from(event.clipboardData.files || []);
      if (files && files.length) {
        event.preventDefault();
        onFiles(files);
      }
    });
    $("attach").addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      onFiles(Array.from(this.fileInput.files || []));
      this.fileInput.value = "";
    });
  }

  get value() {
    return this.input.value;
  }

  set value(text) {
    this.input.value = text;
    this.grow();
  }

  clear() {
    this.value = "";
  }

  grow() {
    const style = getComputedStyle(this.input);
    const line = parseFloat(style.lineHeight) || 20;
    this.input.style.height = "auto";
    const max = line * MAX_LINES + parseFloat(style.paddingTop) + parseFloat(style.paddingBottom) + 2;
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, max)}px`;
  }

  focus() {
    this.input.focus();
  }
}
