// Dark mode: follows prefers-color-scheme until the toggle chooses; the choice is remembered in
// this browser (localStorage) and set as html[data-theme].

import { $ } from "../dom.js";

const KEY = "chat.theme";

function stored() {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setupTheme() {
  const toggle = $("theme-toggle");
  const media = window.matchMedia("(prefers-color-scheme: dark)");
  const current = () => stored() || (media.matches ? "dark" : "light");
  const apply = () => {
    const theme = current();
    document.documentElement.dataset.theme = theme;
    toggle.setAttribute("aria-pressed", String(theme === "dark"));
  };
  toggle.addEventListener("click", () => {
    try {
      localStorage.setItem(KEY, current() === "dark" ? "light" : "dark");
    } catch {
      // storage refused (private mode): the choice lasts for this page only
      document.documentElement.dataset.theme = current() === "dark" ? "light" : "dark";
    }
    apply();
  });
  media.addEventListener("change", apply);
  apply();
}
