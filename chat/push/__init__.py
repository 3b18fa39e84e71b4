"""Web Push: VAPID keys (keys), browsers' subscriptions (subscriptions), delivery to users
without an open socket (deliver), the service worker and the web app manifest (worker)."""
