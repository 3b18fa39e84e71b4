// Message actions: inline buttons (desktop), the ⋯ menu (role=menu; on phones also by a long
// press), the reaction picker, and the in-place editor. Decisions go to `actions`.

import { $, button, el } from "../dom.js";
import { actionsFor } from "./message.js";
import { imeEnter } from "./composer.js";

const LONG_PRESS_MS = 500;

export class MessageMenus {
  constructor(ctx, log, actions) {
    this.ctx = ctx;
    this.log = log;                 // LogView
    this.actions = actions;         // {messageOf(id), edit(id, text, done), remove(id), react(id, emoji), report(id)}
    this.menu = $("message-menu");
    this.picker = $("react-picker");
    this.pickerInput = $("react-other");
    this.menuFor = null;
    this.pickerFor = null;
    this.opener = null;
    const list = log.list;
    list.addEventListener("click", (event) => this.clicked(event));
    list.addEventListener("keydown", (event) => this.editorKeys(event));
    this.menu.addEventListener("click", (event) => {
      const item = event.target.closest("[role=menuitem]");
      if (item) this.run(item.dataset.action, this.menuFor, this.opener);
    });
    this.menu.addEventListener("keydown", (event) => this.menuKeys(event));
    this.picker.addEventListener("click", (event) => {
      const choice = event.target.closest("button[data-emoji]");
      if (choice) this.pick(choice.dataset.emoji);
    });
    $("react-other-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const emoji = this.pickerInput.value.trim();
      if (emoji) this.pick(emoji);
    });
    this.pickerInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && imeEnter(event)) event.preventDefault();
    });
    this.picker.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.closePicker(true);
      }
    });
    document.addEventListener("pointerdown", (event) => {
      if (!this.picker.hidden && !this.picker.contains(event.target) && !event.target.closest('button[data-action="react"], [role=menuitem]')) this.closePicker(false);
      if (!this.menu.hidden && !this.menu.contains(event.target) && !event.target.closest(".message-menu-button")) this.closeMenu(false);
    });
    this.picker.addEventListener("focusout", (event) => {
      if (event.relatedTarget && !this.picker.contains(event.relatedTarget)) this.closePicker(false);
    });
    this.longPress(list);
  }

  // A long press on a message (touch) opens its menu, never over the text's selection.
  longPress(list) {
    let timer = null;
    const cancel = () => clearTimeout(timer);
    list.addEventListener("pointerdown", (event) => {
      if (event.pointerType !== "touch") return;
      const item = event.target.closest("li[data-id]");
      if (!item || event.target.closest("button, a, textarea")) return;
      timer = setTimeout(() => {
        const more = item.querySelector(".message-menu-button");
        if (more) this.openMenu(more, Number(item.dataset.id));
      }, LONG_PRESS_MS);
    });
    ["pointerup", "pointercancel", "pointermove"].forEach((name) => list.addEventListener(name, cancel));
  }

  clicked(event) {
    const control = event.target.closest("button[data-action]");
    const item = control && control.closest("li[data-id]");
    if (!item) return;
    const id = Number(item.dataset.id);
    const action = control.dataset.action;
    if (action === "menu") {
      if (this.menuFor === id && !this.menu.hidden) this.closeMenu(true);
      else this.openMenu(control, id);
      return;
    }
    if (action === "save") this.save(item);
    else if (action === "cancel") this.closeEditor(item, true);
    else if (action === "toggle") this.actions.react(id, control.dataset.emoji);
    else this.run(action, id, control);
  }

  run(action, id, opener) {
    this.closeMenu(false);
    const item = this.log.lineOf(id);
    if (!item) return;
    if (action === "react") {
      if (this.pickerFor === id && !this.picker.hidden) this.closePicker(true);
      else this.openPicker(opener && opener.isConnected ? opener : item.querySelector(".message-menu-button") || item, id);
    } else if (action === "edit") {
      this.openEditor(item);
    } else if (action === "delete") {
      this.actions.remove(id);
    } else if (action === "report") {
      this.actions.report(id);
    } else if (action === "pin") {
      this.actions.pin(id);
    } else if (action === "reply" || action === "thread") {
      this.actions.reply(id);  // the thread panel (views/threads.js)
    }
  }

  place(box, anchor) {
    box.hidden = false;
    const at = anchor.getBoundingClientRect();
    const width = box.offsetWidth;
    const height = box.offsetHeight;
    const left = Math.max(4, Math.min(at.right - width, window.innerWidth - width - 4));
    const below = at.bottom + 4 + height < window.innerHeight;
    box.style.left = `${left}px`;
    box.style.top = `${below ? at.bottom + 4 : Math.max(4, at.top - height - 4)}px`;
  }

  openMenu(opener, id) {
    const msg = this.actions.messageOf(id);
    if (!msg) return;
    const allowed = new Set(actionsFor(msg, this.ctx));
    this.menu.querySelectorAll("[role=menuitem]").forEach((item) => { item.hidden = !allowed.has(item.dataset.action); });
    this.menuFor = id;
    this.opener = opener;
    opener.setAttribute("aria-expanded", "true");
    this.place(this.menu, opener);
    this.menu.querySelector("[role=menuitem]:not([hidden])")?.focus();
  }

  closeMenu(refocus) {
    if (this.menu.hidden) return;
    this.menu.hidden = true;
    if (this.opener) this.opener.setAttribute("aria-expanded", "false");
    if (refocus && this.opener && this.opener.isConnected) this.opener.focus();
    this.menuFor = null;
  }

  menuKeys(event) {
    const items = Array.from(this.menu.querySelectorAll("[role=menuitem]:not([hidden])"));
    const at = items.indexOf(document.activeElement);
    if (event.key === "Escape" || event.key === "Tab") {
      event.preventDefault();
      this.closeMenu(true);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      items[(at + (event.key === "ArrowDown" ? 1 : -1) + items.length) % items.length].focus();
    } else if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      items[event.key === "Home" ? 0 : items.length - 1].focus();
    }
  }

  openPicker(trigger, id) {
    this.pickerFor = id;
    this.pickerTrigger = trigger;
    this.place(this.picker, trigger);
    this.picker.querySelector("button").focus();
  }

  closePicker(refocus) {
    if (this.picker.hidden) return;
    this.picker.hidden = true;
    this.pickerInput.value = "";
    const id = this.pickerFor;
    this.pickerFor = null;
    const item = id !== null && this.log.lineOf(id);
    if (refocus && item) {
      const back = item.querySelector('button[data-action="react"]') || (this.pickerTrigger && this.pickerTrigger.isConnected ? this.pickerTrigger : item);
      back.focus({ preventScroll: true });
    }
  }

  pick(emoji) {
    const id = this.pickerFor;
    this.closePicker(true);
    if (id !== null && emoji) this.actions.react(id, emoji);
  }

  // ---- the editor ----

  openEditor(item) {
    const msg = this.actions.messageOf(Number(item.dataset.id));
    if (!msg || item.querySelector(".editor")) return;
    const { t, settings } = this.ctx;
    const text = item.querySelector(".text");
    const input = el("textarea", { className: "input edit-input", value: msg.text, maxLength: settings.maxMessageLength, rows: 2, "aria-label": t.edit_label });
    input.setAttribute("aria-describedby", "edit-hint");
    const save = button("button small", t.save, t.save);
    save.dataset.action = "save";
    const cancel = button("button small secondary", t.cancel, t.cancel);
    cancel.dataset.action = "cancel";
    const editor = el("div", { className: "editor" }, input, save, cancel);
    text.hidden = true;
    text.after(editor);
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  closeEditor(item, refocus) {
    const editor = item.querySelector(".editor");
    if (!editor) return;
    editor.remove();
    const latest = item.latest || this.actions.messageOf(Number(item.dataset.id));
    item.latest = null;
    if (latest) this.log.update(latest, true);
    item.querySelector(".text").hidden = false;
    if (refocus) {
      const again = this.log.lineOf(item.dataset.id);
      const edit = again && again.querySelector('button[data-action="edit"]');
      (edit || again || item).focus({ preventScroll: true });
    }
  }

  save(item) {
    const input = item.querySelector(".edit-input");
    const id = Number(item.dataset.id);
    const msg = this.actions.messageOf(id);
    if (msg && input.value === msg.text) {
      this.closeEditor(item, true);
      return;
    }
    input.disabled = true;
    this.actions.edit(id, input.value, (ok, saved) => {
      input.disabled = false;
      if (!ok) {
        input.focus();
        return;
      }
      if (!item.latest && saved) item.latest = saved;
      this.closeEditor(item, true);
    });
  }

  editorKeys(event) {
    if (!event.target.classList.contains("edit-input")) return;
    const item = event.target.closest("li[data-id]");
    if (event.key === "Escape") {
      event.preventDefault();
      this.closeEditor(item, true);
      return;
    }
    if (event.key !== "Enter" || event.shiftKey) return;
    event.preventDefault();  // Enter inside an IME composition only commits the composition
    if (imeEnter(event)) return;
    this.save(item);
  }

  // ↑ in an empty composer: edit one's newest message.
  editLast(msg) {
    const item = msg && this.log.lineOf(msg.id);
    if (!item) return false;
    item.scrollIntoView({ block: "nearest" });
    this.openEditor(item);
    return true;
  }
}
