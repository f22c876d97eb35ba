import { test, expect, Page, Browser } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as http from 'http';
import { gotoHydrated, expectNoAxeViolations, watchConsole, outboxCount, nextOutbox, codeOf, signInToMailbox } from './helpers';

/** A push service on this machine: it keeps what Hygie posts, encrypted, as a real one would. */
async function pushService(): Promise<{ url: string; next: () => Promise<Buffer>; close: () => void }> {
  const bodies: Buffer[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      expect(req.headers['content-encoding']).toBe('aes128gcm');
      expect(req.headers['authorization'] || '').toMatch(/^vapid t=/);
      bodies.push(Buffer.concat(chunks));
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  let taken = 0;
  const next = async () => {
    for (let i = 0; i < 150 && bodies.length <= taken; i++) await new Promise((r) => setTimeout(r, 100));
    if (bodies.length <= taken) throw new Error('no push arrived');
    return bodies[taken++];
  };
  return { url: `http://127.0.0.1:${port}/push/telephone-1`, next, close: () => server.close() };
}

/** What the phone's browser does with a push (RFC 8291, aes128gcm): decrypt it with its keys. */
function decryptPush(body: Buffer, ua: crypto.ECDH, auth: Buffer): string {
  const salt = body.subarray(0, 16);
  const idlen = body[20];
  const serverKey = body.subarray(21, 21 + idlen);
  const sealed = body.subarray(21 + idlen);
  const shared = ua.computeSecret(serverKey);
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), ua.getPublicKey(), serverKey]);
  const ikm = Buffer.from(crypto.hkdfSync('sha256', shared, auth, info, 32));
  const cek = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const d = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const plain = Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
  let end = plain.length - 1;
  while (plain[end] === 0) end--; // the padding, then the last record's delimiter (2)
  return plain.subarray(0, end).toString('utf8');
}

/** The phone: a 375 px context with a platform authenticator (its unlock) and a push
 * subscription that points at the test's push service, as the phone's browser would make. */
async function phoneContext(browser: Browser, endpoint: string, ua: crypto.ECDH, auth: Buffer): Promise<Page> {
  const context = await browser.newContext({
    baseURL: process.env.HYGIE_E2E_URL,
    ignoreHTTPSErrors: true,
    locale: 'fr-FR',
    viewport: { width: 375, height: 740 },
    hasTouch: true,
  });
  const b64 = (b: Buffer) => b.toString('base64url');
  await context.addInitScript(({ endpoint, p256dh, auth }) => {
    const bytes = (s: string) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).buffer;
    const subscription = { endpoint, getKey: (name: string) => bytes(name === 'p256dh' ? p256dh : auth) };
    const registration = { pushManager: { subscribe: async () => subscription } };
    Object.defineProperty(ServiceWorkerContainer.prototype, 'ready', { get: () => Promise.resolve(registration) });
    ServiceWorkerContainer.prototype.register = async () => registration as unknown as ServiceWorkerRegistration;
    Object.defineProperty(Notification, 'permission', { get: () => 'granted' });
  }, { endpoint, p256dh: b64(ua.getPublicKey()), auth: b64(auth) });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true },
  });
  return page;
}

async function passwordStep(page: Page, address: string, password: string) {
  await page.getByLabel('Adresse de messagerie sécurisée').fill(address);
  await page.getByLabel('Mot de passe', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Continuer' }).click();
}

test('a nurse adds her phone by its QR link; it approves her sign-in with the number the desktop shows', async ({ page, browser }) => {
  const problems = watchConsole(page);
  const bin = process.env.HYGIE_E2E_BIN;
  if (!bin) throw new Error('HYGIE_E2E_BIN is not set');
  const address = `emma.blanc.${Date.now()}@hygie.localhost`;
  const notification = 'emma.blanc@exemple.fr';
  const password = 'tournée de la vallée';
  let before = outboxCount();
  execFileSync(bin, ['accounts', 'create', '--address', address, '--last-name', 'Blanc', '--first-name', 'Emma',
    '--authority', 'SSIAD du Vercors', '--role', 'Infirmière', '--notification-email', notification], { stdio: 'pipe' });
  const invite = await nextOutbox(before, (m) => m.includes('Category: account.activation') && m.includes(`To: ${notification}\n`));
  await gotoHydrated(page, invite.match(/\/activation\/[0-9a-f]{64}/)![0]);
  await page.getByLabel('Nouveau mot de passe').fill(password);
  await page.getByRole('button', { name: 'Activer mon compte' }).click();
  await expect(page.getByText('Votre compte est activé')).toBeVisible();
  await signInToMailbox(page, address, password, notification);

  // On the desktop: "Ajouter mon téléphone" shows a one-time link as a QR code.
  await gotoHydrated(page, '/compte');
  await page.getByRole('button', { name: 'Ajouter mon téléphone' }).click();
  await expect(page.getByRole('img', { name: 'Code QR à scanner avec le téléphone' })).toBeVisible();
  await expectNoAxeViolations(page);
  const link = new URL((await page.locator('#phone-link').getAttribute('href'))!).pathname;

  // On the phone: the link asks to sign in first, then adds the phone (passkey + push).
  const push = await pushService();
  const ua = crypto.createECDH('prime256v1');
  ua.generateKeys();
  const auth = crypto.randomBytes(16);
  const phone = await phoneContext(browser, push.url, ua, auth);
  const phoneProblems = watchConsole(phone);
  await gotoHydrated(phone, link);
  await phone.locator('section.card').getByRole('link', { name: 'Se connecter' }).click();
  await expect(phone).toHaveURL(/\/connexion\?suite=/);
  await expect(phone.locator('body[data-hydrated="true"]')).toHaveCount(1);
  before = outboxCount();
  await passwordStep(phone, address, password);
  const code = await nextOutbox(before, (m) => m.includes(`To: ${notification}\n`) && m.includes('Category: auth.code'));
  await phone.getByLabel('Code à 6 chiffres').fill(codeOf(code));
  await phone.getByRole('button', { name: 'Se connecter' }).click();
  await expect(phone).toHaveURL(new RegExp(`${link}$`));
  await expect(phone.getByRole('heading', { name: 'Associer ce téléphone à votre compte' })).toBeVisible();
  await expectNoAxeViolations(phone);
  await phone.getByRole('button', { name: 'Associer ce téléphone' }).click();
  await expect(phone.getByRole('status').filter({ hasText: 'Ce téléphone est associé' })).toBeVisible();
  await expect(phone.locator('.recovery-codes li')).toHaveCount(10);
  await phone.getByRole('link', { name: 'Hygie sur ce téléphone' }).click();
  await expect(phone.getByText('Aucune demande de connexion en attente.')).toBeVisible();
  expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);

  await page.getByRole('button', { name: "J'ai terminé sur le téléphone" }).click();
  await expect(page.locator('.terminals li')).toContainText('Téléphone (validation des connexions)');

  // Signing in on the desktop: the phone is offered; a push leaves with only an opaque id.
  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await gotoHydrated(page, '/connexion');
  await passwordStep(page, address, password);
  await expect(page.getByRole('heading', { name: 'Validez sur votre téléphone' })).toBeVisible();
  await expectNoAxeViolations(page);
  await page.getByRole('button', { name: 'Valider sur mon téléphone' }).click();
  const shown = Number(await page.locator('.phone-number').textContent());
  const payload = JSON.parse(decryptPush(await push.next(), ua, auth));
  expect(Object.keys(payload)).toEqual(['approval']);
  expect(payload.approval).toMatch(/^[0-9a-f]{32}$/);

  // The notification opens the request; a wrong number refuses the sign-in.
  await gotoHydrated(phone, `/telephone?demande=${payload.approval}`);
  const numbers = phone.locator('.approval .number');
  await expect(numbers).toHaveCount(3);
  await expectNoAxeViolations(phone);
  const choices = (await numbers.allTextContents()).map(Number);
  expect(choices).toContain(shown);
  const wrong = choices.find((n) => n !== shown)!;
  await phone.getByRole('button', { name: `Choisir ${wrong}` }).click();
  await expect(phone.getByText("Ce n'est pas le nombre affiché")).toBeVisible();
  await expect(page.getByText('La demande a été refusée sur le téléphone')).toBeVisible();

  // Again: the open app finds the new request by itself; the right number and the phone's
  // unlock sign the desktop in.
  await page.getByRole('button', { name: 'Valider sur mon téléphone' }).click();
  const again = Number(await page.locator('.phone-number').textContent());
  await push.next();
  await phone.getByRole('button', { name: `Choisir ${again}` }).click();
  await expect(phone.getByText('Connexion validée.')).toBeVisible();
  await expect(page).toHaveURL(/\/messagerie$/);
  await gotoHydrated(page, '/compte');
  await expect(page.locator('tr.current')).toContainText('Téléphone');
  await expect(page.locator('tr.current')).toContainText('Lié au matériel');
  push.close();
  expect(problems).toEqual([]);
  expect(phoneProblems).toEqual([]);
});
