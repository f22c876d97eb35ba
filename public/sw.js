// Hygie's service worker. It keeps the application's static files (script, WebAssembly, style,
// icons) for a quick start, and shows sign-in requests pushed to this phone. It never stores a
// page, a message or an answer from the server's API: those always come from the network.

const CACHE = 'hygie-static-v1';
const STATIC = /^\/(pkg\/|icons\/|favicon\.ico$|manifest\.webmanifest$)/;

self.addEventListener('install', () => self.skipWaiting());

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || !STATIC.test(url.pathname)) return;
  // Network first, so a new version arrives at once; the cache when offline.
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const fresh = await fetch(event.request);
      if (fresh.ok) cache.put(event.request, fresh.clone());
      return fresh;
    } catch (e) {
      const kept = await cache.match(event.request);
      if (kept) return kept;
      throw e;
    }
  })());
});

// A push holds only the request's opaque id: the numbers are fetched by the open app.
self.addEventListener('push', (event) => {
  let id = '';
  try { id = (event.data && event.data.json().approval) || ''; } catch (e) { /* not ours */ }
  if (!/^[0-9a-f]{32}$/.test(id)) return;
  const url = `/telephone?demande=${id}`;
  event.waitUntil((async () => {
    for (const client of await self.clients.matchAll({ type: 'window' })) client.postMessage({ approval: id });
    await self.registration.showNotification('Hygie : demande de connexion', {
      body: 'Touchez pour choisir le nombre affiché et valider, ou refuser.',
      tag: id,
      requireInteraction: true,
      icon: '/icons/hygie-192.png',
      data: { url },
    });
  })());
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || '/telephone';
  event.waitUntil((async () => {
    for (const client of await self.clients.matchAll({ type: 'window' })) {
      if (new URL(client.url).pathname === '/telephone' && 'focus' in client) {
        client.navigate(url);
        return client.focus();
      }
    }
    return self.clients.openWindow(url);
  })());
});
