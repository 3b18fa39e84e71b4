// Phones (≤ 600 px): the sidebar is a drawer opened by a button; Escape, the scrim or a choice
// closes it and the focus goes back to the button.

import { $ } from "../dom.js";

export class Drawer {
  constructor() {
    this.sidebar = $("sidebar");
    this.toggle = $("drawer-toggle");
    this.scrim = $("scrim");
    this.toggle.addEventListener("click", () => (this.isOpen() ? this.close(true) : this.open()));
    this.scrim.addEventListener("click", () => this.close(true));
    this.sidebar.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.isOpen()) {
        event.preventDefault();
        this.close(true);
      }
    });
  }

  isOpen() {
    return this.sidebar.classList.contains("open");
  }

  open() {
    this.sidebar.classList.add("open");
    this.scrim.hidden = false;
    this.scrim.classList.add("open");
    this.toggle.setAttribute("aria-expanded", "true");
    const current = this.sidebar.querySelector('[aria-current="true"]') || this.sidebar.querySelector("button");
    if (current) current.focus();
  }

  close(refocus) {
    if (!this.isOpen()) return;
    this.sidebar.classList.remove("open");
    this.scrim.classList.remove("open");
    this.scrim.hidden = true;
    this.toggle.setAttribute("aria-expanded", "false");
    if (refocus) this.toggle.focus();
  }
}
