// Desktop notifications (the Notification API, while the page is hidden) and Web Push (the
// service worker at /sw.js, for when no tab is open). Permission is asked only by the sidebar's
// #notify-toggle button. One tab per browser notifies: every tab that sees a message claims its
// id in localStorage under a Web Lock (visible tabs at once, hidden ones a moment later), and only
// a hidden tab that claims it first shows it.

import { bodyOf, claim, readRecent, roomFromSearch, shouldNotify, titleOf } from "./notify.js";

const RECENT = "chat.notified";      // ids some tab handled
const ENABLED = "chat.notify:";      // + user id: "on" once the user turned them on in this browser
const REMEMBER = "chat.room:";       // chat.js's remembered conversation
// One tab per message: a Web Lock named after the message, held for a while by the tab that got it.
// The browser grants it to one tab only; localStorage alone is not enough (other tabs may read a
// stale copy for a moment).
const CLAIM_HOLD_MS = 10000;
function claimWithLock(id, take) {
  return new Promise((resolve) => {
    navigator.locks.request(`chat.notify.${id}`, { ifAvailable: true }, (lock) => {
      resolve(Boolean(lock) && take());
      return lock ? new Promise((done) => setTimeout(done, CLAIM_HOLD_MS)) : undefined;
    }).catch(() => resolve(take()));
  });
}

const HIDDEN_GRACE_MS = 250;         // a visible tab's claim comes first

function storage(key, value) {
  try {
    if (value === undefined) return localStorage.getItem(key);
    localStorage.setItem(key, value);
  } catch {
    // storage refused: nothing remembered
  }
  return null;
}

// A notification's URL ("/?room=…") opens that conversation: remembered before the page starts,
// and the address bar cleaned.
export function openFromUrl(me) {
  const room = roomFromSearch(window.location.search);
  if (room === null) return;
  storage(REMEMBER + (me.id ?? me.name), room);
  window.history.replaceState(null, "", "/");
}

function base64ToBytes(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

export class Notifications {
  constructor(ctx, { open, info, label }) {
    this.ctx = ctx;
    this.open = open;     // (room) => show that conversation
    this.info = info;     // (room) => its list_rooms entry ({kind, notify}) or null
    this.label = label;   // (room) => how the sidebar names it
    this.button = document.getElementById("notify-toggle");
    this.key = ENABLED + (ctx.me.id ?? ctx.me.name);
    this.supported = "Notification" in window;
    if (this.button && this.supported) {
      this.button.hidden = false;
      this.button.addEventListener("click", () => this.toggle());
    }
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.addEventListener("message", (event) => {
        if (event.data && event.data.type === "chat.open" && typeof event.data.room === "string") this.open(event.data.room);
      });
    }
    document.querySelector("form[action$='/logout']")?.addEventListener("submit", () => this.forget());
    if (this.enabled()) this.subscribePush();  // keeps this browser's subscription known (no prompt)
    this.render();
  }

  enabled() {
    return this.supported && Notification.permission === "granted" && storage(this.key) === "on";
  }

  render() {
    if (!this.button || !this.supported) return;
    const { t } = this.ctx;
    const denied = Notification.permission === "denied";
    this.button.disabled = denied;
    this.button.textContent = denied ? t.notify_blocked : this.enabled() ? t.notify_disable : t.notify_enable;
    this.button.setAttribute("aria-pressed", String(this.enabled()));
  }

  async toggle() {
    if (this.enabled()) {
      storage(this.key, "off");
      await this.unsubscribePush();
    } else {
      storage(this.key, "on");
      if (Notification.permission !== "granted") await Notification.requestPermission();
      if (this.enabled()) await this.subscribePush();
    }
    this.render();
  }

  // ---- desktop notifications ----

  message(msg) {
    if (!this.enabled()) return;
    const info = this.info(msg.room) || {};
    if (!shouldNotify(msg, this.ctx.me.id, { level: info.notify, kind: info.kind })) return;
    this.claimAndShow(msg, info.kind);
  }

  async claimAndShow(msg, kind) {
    if (document.visibilityState === "hidden") await new Promise((done) => setTimeout(done, HIDDEN_GRACE_MS));
    const hidden = document.visibilityState === "hidden";
    const take = () => {
      const [first, list] = claim(readRecent(storage(RECENT)), msg.id);
      if (first) storage(RECENT, JSON.stringify(list));
      return first;
    };
    const first = navigator.locks ? await claimWithLock(msg.id, take) : take();
    if (!first || !hidden) return;
    const note = new Notification(titleOf(msg, kind, this.label(msg.room)), {
      body: bodyOf(msg), tag: `chat:${msg.room}`, icon: "/static/icons/icon-192.png",
    });
    note.onclick = () => {
      window.focus();
      this.open(msg.room);
      note.close();
    };
  }

  // ---- Web Push ----

  async request(method, body) {
    const response = await fetch("/api/push/subscriptions", {
      method, credentials: "same-origin", keepalive: method === "DELETE",
      headers: { "Content-Type": "application/json", "X-CSRFToken": this.ctx.settings.csrfToken, Accept: "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`push subscription: ${response.status}`);
  }

  async registration() {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) return null;
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    return navigator.serviceWorker.ready;
  }

  async subscribePush() {
    try {
      const registration = await this.registration();
      if (!registration) return;
      let subscription = await registration.pushManager.getSubscription();
      if (!subscription) {
        const reply = await (await fetch("/api/push/key", { credentials: "same-origin" })).json();
        subscription = await registration.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: base64ToBytes(reply.publicKey),
        });
      }
      await this.request("POST", subscription.toJSON());
    } catch (err) {
      console.warn("Web Push unavailable here; desktop notifications only", err);
    }
  }

  async unsubscribePush() {
    try {
      const registration = "serviceWorker" in navigator ? await navigator.serviceWorker.getRegistration("/") : null;
      const subscription = registration && registration.pushManager ? await registration.pushManager.getSubscription() : null;
      if (!subscription) return;
      await this.request("DELETE", { endpoint: subscription.endpoint });
      await subscription.unsubscribe();
    } catch (err) {
      console.warn("could not end the push subscription", err);
    }
  }

  // Logging out: this browser stops getting the user's pushes (best effort: the page is leaving).
  forget() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.getRegistration("/").then((registration) => registration && registration.pushManager.getSubscription())
      .then((subscription) => subscription && this.request("DELETE", { endpoint: subscription.endpoint }))
      .catch(() => {});
  }
}
