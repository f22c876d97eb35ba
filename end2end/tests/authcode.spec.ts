import { test, expect } from '@playwright/test';
import { execFileSync } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';
import { gotoHydrated, expectNoAxeViolations, watchConsole, outboxCount, nextOutbox, codeOf } from './helpers';

/** A native mail client's loopback listener (RFC 8252 §7.3): the browser brings it the code. */
async function loopbackListener() {
  let resolve!: (u: URL) => void;
  const received = new Promise<URL>((r) => (resolve = r));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="fr"><head><title>Thunderbird</title></head>' +
      '<body><main><h1>Vous pouvez revenir à Thunderbird.</h1></main></body></html>');
    if (url.pathname === '/callback') resolve(url);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, received, close: () => server.close() };
}

test('a mail client opens the browser, a new pharmacist signs in, accepts the terms and allows it with the keyboard, then withdraws it', async ({ page }) => {
  const problems = watchConsole(page);
  const bin = process.env.HYGIE_E2E_BIN;
  if (!bin) throw new Error('HYGIE_E2E_BIN is not set');
  // The operator registered the mail client with its loopback redirect URI (any port).
  const clientId = execFileSync(bin, ['oauth', 'add-client', 'Thunderbird', '--redirect-uri', 'http://127.0.0.1/callback'],
    { encoding: 'utf8' }).trim();
  expect(clientId).toMatch(/^hygie-[0-9a-f]{24}$/);

  // The mail client listens on a port of its own and opens the authorization URL, with PKCE.
  const client = await loopbackListener();
  const verifier = randomBytes(48).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const redirectUri = `http://127.0.0.1:${client.port}/callback`;
  const authorize = '/oauth/authorize?' + new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'mail', state: 'etat-7',
    code_challenge: challenge, code_challenge_method: 'S256',
  }).toString();

  // A pharmacist whose account was just created: her first sign-in asks her to accept the terms.
  const address = `claire.petit.${Date.now()}@hygie.localhost`;
  const notification = 'claire.petit@exemple.fr';
  const password = 'ordonnances du lundi';
  let before = outboxCount();
  execFileSync(bin, ['accounts', 'create', '--address', address, '--last-name', 'Petit', '--first-name', 'Claire',
    '--authority', 'Pharmacie des Halles', '--role', 'Pharmacienne', '--notification-email', notification], { stdio: 'pipe' });
  const invite = await nextOutbox(before, (m) => m.includes('Category: account.activation') && m.includes(`To: ${notification}\n`));
  await gotoHydrated(page, invite.match(/\/activation\/[0-9a-f]{64}/)![0]);
  await page.getByLabel('Nouveau mot de passe').fill(password);
  await page.getByRole('button', { name: 'Activer mon compte' }).click();
  await expect(page.getByText('Votre compte est activé')).toBeVisible();

  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto(authorize);
  // Not signed in: the sign-in page first, then the terms, then back to the request.
  await expect(page).toHaveURL(/\/connexion\?suite=/);
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  before = outboxCount();
  await page.getByLabel('Adresse de messagerie sécurisée').fill(address);
  await page.getByLabel('Mot de passe', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Continuer' }).click();
  const message = await nextOutbox(before, (m) => m.includes(`To: ${notification}\n`) && m.includes('Category: auth.code'));
  await page.getByLabel('Code à 6 chiffres').fill(codeOf(message));
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await expect(page).toHaveURL(/\/compte\/cgu\?suite=\/autoriser%3F/);
  await page.getByRole('button', { name: "J'accepte les conditions d'utilisation" }).click();
  // The request is not lost: the consent comes next, without the client opening its URL again.
  await expect(page).toHaveURL(/\/autoriser\?/);
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);

  // The consent: who asks, for what, on which mailbox.
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Autoriser un logiciel');
  await expect(page.getByText("« Thunderbird » demande l'accès à votre messagerie")).toBeVisible();
  await expect(page.getByText(`Messagerie concernée : ${address}`)).toBeVisible();
  await expectNoAxeViolations(page);
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);

  // With the keyboard alone: Tab to "Autoriser", Enter.
  const allow = page.getByRole('button', { name: 'Autoriser' });
  for (let i = 0; i < 80 && !(await allow.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press('Tab');
  }
  await expect(allow).toBeFocused();
  await page.keyboard.press('Enter');
  const back = await client.received;
  await expect(page.getByRole('heading', { name: 'Vous pouvez revenir à Thunderbird.' })).toBeVisible();
  expect(back.searchParams.get('state')).toBe('etat-7');
  const code = back.searchParams.get('code');
  expect(code).toMatch(/^hyac_[0-9a-f]{64}$/);

  // The mail client exchanges the code with its verifier and reads the mailbox.
  const exchange = (v: string) => page.request.post('/oauth/token', {
    form: { grant_type: 'authorization_code', client_id: clientId, code: code!, redirect_uri: redirectUri, code_verifier: v },
  });
  const refused = await exchange(randomBytes(48).toString('base64url'));
  expect(refused.status()).toBe(400);
  expect((await refused.json()).error).toBe('invalid_grant');
  const tokens = await exchange(verifier);
  expect(tokens.status()).toBe(200);
  const { access_token, refresh_token } = await tokens.json();
  expect(refresh_token).toMatch(/^hyrt_/);
  const api = () => page.request.get('/api/v1/folders', { headers: { Authorization: `Bearer ${access_token}` } });
  expect((await api()).status()).toBe(200);

  // In the account, the mail client is listed; withdrawn, it can read nothing more.
  await gotoHydrated(page, '/compte');
  await expect(page.getByRole('heading', { name: 'Logiciels et clients connectés' })).toBeVisible();
  const withdraw = page.getByRole('button', { name: "Retirer l'accès de Thunderbird" });
  await expect(withdraw).toHaveCount(1);
  await withdraw.click();
  await expect(withdraw).toHaveCount(0);
  expect((await api()).status()).toBe(401);
  client.close();
  expect(problems).toEqual([]);
});
