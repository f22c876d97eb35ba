import { test, expect, Page } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import { gotoHydrated, expectNoAxeViolations, watchConsole, outboxCount, nextOutbox, signInToMailbox } from './helpers';

/** What an authenticator app shows for `key` (base32, RFC 6238: SHA-1, 30 s, 6 digits) at `ms`. */
function totp(key: string, ms: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of key.replace(/\s+/g, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 1000 / 30)));
  const mac = crypto.createHmac('sha1', bytes).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return n.toString().padStart(6, '0');
}

async function typeCodeAndSignIn(page: Page, code: string) {
  await page.getByLabel("Code de l'application d'authentification, ou code de secours").fill(code);
  await page.getByRole('button', { name: 'Se connecter' }).click();
}

test('a social worker activates her account, adds an authenticator app, keeps her recovery codes, signs in with its code and removes it', async ({ page }) => {
  const problems = watchConsole(page);
  const bin = process.env.HYGIE_E2E_BIN;
  if (!bin) throw new Error('HYGIE_E2E_BIN is not set');
  const address = `zoe.roux.${Date.now()}@hygie.localhost`;
  const notification = 'zoe.roux@exemple.fr';
  const password = 'cahier de liaison 2026';

  // The operator creates the account; the activation link arrives at her notification address.
  let before = outboxCount();
  execFileSync(bin, ['accounts', 'create', '--address', address, '--last-name', 'Roux', '--first-name', 'Zoé',
    '--authority', 'Conseil départemental du Rhône', '--role', 'Assistante sociale',
    '--notification-email', notification], { stdio: 'pipe' });
  const invite = await nextOutbox(before, (m) => m.includes('Category: account.activation') && m.includes(`To: ${notification}\n`));
  const link = invite.match(/\/activation\/[0-9a-f]{64}/)![0];
  await gotoHydrated(page, link);
  await page.getByLabel('Nouveau mot de passe').fill(password);
  await page.getByRole('button', { name: 'Activer mon compte' }).click();
  await expect(page.getByText('Votre compte est activé')).toBeVisible();

  await signInToMailbox(page, address, password, notification);

  // Mes terminaux: name, QR code and key, first code.
  await gotoHydrated(page, '/compte');
  await expect(page.getByRole('heading', { name: 'Mes terminaux' })).toBeVisible();
  await expect(page.getByText('Aucun terminal pour l’instant').or(page.getByText("Aucun terminal pour l'instant"))).toBeVisible();
  await page.getByRole('button', { name: "Ajouter une application d'authentification" }).click();
  await page.getByLabel('Nom du terminal').fill('Téléphone du cabinet');
  await page.getByRole('button', { name: 'Continuer' }).click();
  await expect(page.getByRole('heading', { name: "Associer l'application" })).toBeVisible();
  await expect(page.getByRole('img', { name: 'Code QR à scanner avec l’application d’authentification' })
    .or(page.getByRole('img', { name: "Code QR à scanner avec l'application d'authentification" }))).toBeVisible();
  await expectNoAxeViolations(page);
  // On a phone, the QR code, the key and the form fit without sideways scrolling.
  await page.setViewportSize({ width: 375, height: 740 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  const key = (await page.locator('#totp-key').textContent())!.trim();
  expect(key.replace(/\s/g, '')).toMatch(/^[A-Z2-7]{32}$/);
  before = outboxCount();
  await page.getByLabel('Code à 6 chiffres').fill(totp(key, Date.now()));
  await page.getByRole('button', { name: 'Vérifier et ajouter' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Téléphone du cabinet' })).toBeVisible();
  await expect(page.locator('.terminals li')).toHaveCount(1);
  // Ten recovery codes come with the first terminal, shown once, to print.
  await expect(page.getByRole('heading', { name: 'Vos codes de secours' })).toBeVisible();
  await expect(page.locator('.recovery-codes li')).toHaveCount(10);
  await expect(page.getByRole('button', { name: 'Imprimer' })).toBeVisible();
  await expectNoAxeViolations(page);
  await page.getByRole('button', { name: 'Je les ai mis en lieu sûr' }).click();
  await expect(page.locator('.recovery-codes')).toHaveCount(0);
  await nextOutbox(before, (m) => m.includes('Category: terminal.added') && m.includes(`To: ${notification}\n`));

  // Signing in again: the app's code is asked for, nothing is sent.
  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await expect(page).toHaveURL(/\/connexion$/);
  await gotoHydrated(page, '/connexion');
  before = outboxCount();
  await page.getByLabel('Adresse de messagerie sécurisée').fill(address);
  await page.getByLabel('Mot de passe', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Continuer' }).click();
  await expect(page.getByRole('heading', { name: 'Saisissez le code de votre application' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Recevoir le code par e-mail plutôt (moins sûr)' })).toBeVisible();
  await expectNoAxeViolations(page);
  // The code that added the app was used: the next one (one step of skew) signs in.
  await typeCodeAndSignIn(page, totp(key, Date.now() + 30_000));
  await expect(page).toHaveURL(/\/messagerie$/);
  expect(outboxCount(), 'no code sent').toBe(before);

  // The sessions list says how she signed in; removing the app takes it off the sign-in.
  await gotoHydrated(page, '/compte');
  await expect(page.locator('tr.current')).toContainText("Application d'authentification");
  await page.getByRole('button', { name: 'Retirer le terminal Téléphone du cabinet' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Terminal retiré.' })).toBeVisible();
  await expect(page.locator('.terminals li')).toHaveCount(0);
  await nextOutbox(before, (m) => m.includes('Category: terminal.removed'));
  expect(problems).toEqual([]);
});
