// The service worker (served at /sw.js, scope "/"): shows Web Push notifications and opens the
// conversation a clicked notification is about. The push's JSON: {title, body, url, room, id}.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function readPush(event) {
  try {
    return event.data ? event.data.json() : {};
  } catch {
    return {};
  }
}

self.addEventListener("push", (event) => {
  const push = readPush(event);
  const title = typeof push.title === "string" && push.title ? push.title : "Chat";
  const options = {
    body: typeof push.body === "string" ? push.body : "",
    tag: typeof push.room === "string" ? `chat:${push.room}` : "chat",
    renotify: true,
    icon: "/static/icons/icon-192.png",
    badge: "/static/icons/icon-192.png",
    data: { url: sameOrigin(push.url), room: typeof push.room === "string" ? push.room : "" },
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

// Only a URL of this site is ever opened ("/" for anything else).
function sameOrigin(url) {
  try {
    const target = new URL(typeof url === "string" ? url : "/", self.location.origin);
    return target.origin === self.location.origin ? target.pathname + target.search : "/";
  } catch {
    return "/";
  }
}

// A tab of the chat shows the conversation (the page listens for "chat.open"); without one, a new
// window opens at the conversation's URL.
async function openConversation(data) {
  const url = sameOrigin(data && data.url);
  const room = data && typeof data.room === "string" ? data.room : null;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const tab = windows.find((client) => new URL(client.url).origin === self.location.origin);
  if (tab) {
    tab.postMessage({ type: "chat.open", room });
    try {
      await tab.focus();
    } catch {
      // focusing needs the click's user activation: without it the tab is left where it is
    }
    return tab;
  }
  return self.clients.openWindow(url);
}
self.openConversation = openConversation;  // for the browser tests

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openConversation(event.notification.data));
});
