// Hygie on the holder's phone: the service worker (static files and push notifications), the
// push subscription, and the device token that lets the open app find sign-in requests.

const KEY = 'hygie-phone-device';

export function registerWorker() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {});
  }
}

const toBytes = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
const toText = (buf) => {
  let s = '';
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

// Subscribes to pushes with the server's VAPID key; resolves to the subscription as JSON
// ({endpoint, p256dh, auth}), or '' when this browser cannot (no push service, refused).
export async function subscribePush(vapid) {
  try {
    if (!('serviceWorker' in navigator) || !('PushManager' in window)) return '';
    registerWorker();
    const reg = await Promise.race([
      navigator.serviceWorker.ready,
      new Promise((_, fail) => setTimeout(() => fail(new Error('no service worker')), 5000)),
    ]);
    if (window.Notification && Notification.permission === 'default') await Notification.requestPermission();
    const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: toBytes(vapid) });
    return JSON.stringify({ endpoint: sub.endpoint, p256dh: toText(sub.getKey('p256dh')), auth: toText(sub.getKey('auth')) });
  } catch (e) {
    return '';
  }
}

export function saveDevice(token) {
  try { localStorage.setItem(KEY, token); } catch (e) { /* private mode: polling needs the token */ }
}

export function loadDevice() {
  try { return localStorage.getItem(KEY) || ''; } catch (e) { return ''; }
}
