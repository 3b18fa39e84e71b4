// The dialogs: "new room", the room's settings (topic, invite, remove) and the quick switcher
// (Ctrl/Cmd+K). Native <dialog>: modal, Escape closes, the focus returns to the opener.

import { $, el } from "../dom.js";
import { rank } from "../switcher.js";

function closeButtons(dialog) {
  dialog.querySelectorAll("[data-close]").forEach((b) => b.addEventListener("click", () => dialog.close()));
}

export class NewRoomDialog {
  constructor(ctx, { onCreate }) {
    this.dialog = $("new-room-dialog");
    this.name = $("new-room-name");
    this.topic = $("new-room-topic");
    this.private = $("new-room-private");
    closeButtons(this.dialog);
    $("new-room").addEventListener("click", () => this.open());
    $("create-room-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const request = { room: this.name.value.trim(), topic: this.topic.value, private: this.private.checked };
      if (!request.room) return;
      onCreate(request, () => {
        this.name.value = "";
        this.topic.value = "";
        this.private.checked = false;
        this.dialog.close();
      });
    });
  }

  open() {
    this.dialog.showModal();
    this.name.focus();
  }
}

export class SettingsDialog {
  constructor(ctx, { onSubmit }) {
    this.ctx = ctx;
    this.dialog = $("room-settings-dialog");
    this.title = $("room-settings-title");
    this.forms = {
      topic: [$("topic-form"), $("topic-input"), "set_topic", "topic"],
      invite: [$("invite-form"), $("invite-input"), "invite", "user"],
      remove: [$("remove-form"), $("remove-input"), "remove_member", "user"],
    };
    closeButtons(this.dialog);
    $("room-settings").addEventListener("click", () => this.dialog.showModal());
    for (const [form, input, event, key] of Object.values(this.forms)) {
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        onSubmit(event, key, input.value, () => {
          if (key === "user") input.value = "";
          this.dialog.close();
        });
      });
    }
  }

  // The creator may change the topic and remove members; any member may invite. A direct
  // conversation has its notification level only.
  show(info) {
    const { me, t } = this.ctx;
    const dm = Boolean(info && info.kind === "dm");
    const mine = Boolean(info && !dm && me.id !== null && info.creator === me.id);
    this.forms.topic[0].hidden = !mine;
    this.forms.remove[0].hidden = !mine;
    this.forms.invite[0].hidden = dm;
    this.title.textContent = dm ? t.notify_settings : t.room_settings;
    if (mine && document.activeElement !== this.forms.topic[1]) this.forms.topic[1].value = info.topic || "";
    if (!info) this.dialog.close();
  }
}

export class SwitcherDialog {
  constructor(ctx, { items, onChoose }) {
    this.ctx = ctx;
    this.dialog = $("switcher");
    this.input = $("switcher-input");
    this.list = $("switcher-list");
    this.items = items;
    this.onChoose = onChoose;
    this.selected = 0;
    this.matches = [];
    $("switcher-open").addEventListener("click", () => this.open());
    this.input.addEventListener("input", () => this.filter());
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        this.select(this.selected + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter" && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.choose(this.matches[this.selected]);
      }
    });
    this.list.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.choose(this.matches[Number(option.dataset.index)]);
    });
  }

  open() {
    if (this.dialog.open) return;
    this.input.value = "";
    this.dialog.showModal();
    this.filter();
    this.input.focus();
  }

  filter() {
    const { t } = this.ctx;
    this.matches = rank(this.items(), this.input.value);
    this.list.replaceChildren(...this.matches.map((item, index) => el("li", {
      role: "option", id: `switcher-option-${index}`, dataset: { index: String(index), key: item.key },
      "aria-selected": "false",
    }, el("span", { className: "label", text: item.label }),
    el("span", { className: "kind", text: item.kind === "person" ? t.person : item.kind === "dm" ? "DM" : "#" }))));
    this.select(0);
  }

  select(index) {
    const options = this.list.querySelectorAll("[role=option]");
    if (!options.length) {
      this.input.removeAttribute("aria-activedescendant");
      return;
    }
    this.selected = (index + options.length) % options.length;
    options.forEach((option, n) => option.setAttribute("aria-selected", String(n === this.selected)));
    this.input.setAttribute("aria-activedescendant", options[this.selected].id);
    options[this.selected].scrollIntoView({ block: "nearest" });
  }

  choose(item) {
    if (!item) return;
    this.dialog.close();
    this.onChoose(item);
  }
}
