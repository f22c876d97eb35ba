import { test, expect, Page, CDPSession } from '@playwright/test';
import { execFileSync } from 'child_process';
import { gotoHydrated, expectNoAxeViolations, watchConsole, outboxCount, nextOutbox, signInToMailbox } from './helpers';

// WebAuthn needs a domain name, never an IP address: scripts/test.sh serves the pages on
// localhost, the host of Hygie's public address in the test run.

/** A platform authenticator with user verification (a fingerprint reader), as Chromium's
 * DevTools protocol simulates one: the person is present and verified at each request. */
async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await expect(page).toHaveURL(/\/connexion$/);
}

test('a pharmacist adds a passkey, signs in with it alone, then with it after her password', async ({ page }) => {
  const problems = watchConsole(page);
  const bin = process.env.HYGIE_E2E_BIN;
  if (!bin) throw new Error('HYGIE_E2E_BIN is not set');
  const address = `alice.morel.${Date.now()}@hygie.localhost`;
  const notification = 'alice.morel@exemple.fr';
  const password = 'préparations du samedi';

  let before = outboxCount();
  execFileSync(bin, ['accounts', 'create', '--address', address, '--last-name', 'Morel', '--first-name', 'Alice',
    '--authority', 'Pharmacie du Centre', '--role', 'Pharmacienne', '--notification-email', notification], { stdio: 'pipe' });
  const invite = await nextOutbox(before, (m) => m.includes('Category: account.activation') && m.includes(`To: ${notification}\n`));
  const link = invite.match(/\/activation\/[0-9a-f]{64}/)![0];
  await gotoHydrated(page, link);
  await page.getByLabel('Nouveau mot de passe').fill(password);
  await page.getByRole('button', { name: 'Activer mon compte' }).click();
  await expect(page.getByText('Votre compte est activé')).toBeVisible();
  await signInToMailbox(page, address, password, notification);
  expect(new URL(page.url()).hostname, 'WebAuthn needs a domain name').toBe('localhost');

  const { cdp, id } = await virtualAuthenticator(page);

  // Mes terminaux: a passkey is offered first; the browser asks the (virtual) fingerprint reader.
  await gotoHydrated(page, '/compte');
  await expectNoAxeViolations(page);
  before = outboxCount();
  await page.getByRole('button', { name: "Ajouter une clé d'accès" }).click();
  await page.getByLabel('Nom du terminal').fill('Ordinateur de l’officine');
  await page.getByRole('button', { name: 'Continuer' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'est ajoutée' })).toBeVisible();
  await expect(page.locator('.terminals li')).toHaveCount(1);
  await expect(page.locator('.terminals li')).toContainText("Clé d'accès");
  await expect(page.locator('.recovery-codes li')).toHaveCount(10);
  await page.getByRole('button', { name: 'Je les ai mis en lieu sûr' }).click();
  await nextOutbox(before, (m) => m.includes('Category: terminal.added') && m.includes(`To: ${notification}\n`));
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: id });
  expect(credentials.length).toBe(1);
  expect(credentials[0].isResidentCredential, 'kept on the device: it can sign in without an address').toBe(true);

  // Adding the same key again is refused by the key itself, with a clear message.
  await page.getByRole('button', { name: "Ajouter une clé d'accès" }).click();
  await page.getByRole('button', { name: 'Continuer' }).click();
  await expect(page.getByText('Cette clé est déjà enregistrée sur votre compte.')).toBeVisible();
  await page.getByRole('button', { name: 'Annuler' }).click();
  await expect(page.locator('.terminals li')).toHaveCount(1);

  // "Se connecter avec une clé d'accès": no address, no password, no code.
  await signOut(page);
  await gotoHydrated(page, '/connexion');
  await expectNoAxeViolations(page);
  before = outboxCount();
  await page.getByRole('button', { name: "Se connecter avec une clé d'accès" }).click();
  await expect(page).toHaveURL(/\/messagerie$/);
  expect(outboxCount(), 'no code sent').toBe(before);
  await gotoHydrated(page, '/compte');
  await expect(page.locator('tr.current')).toContainText("Clé d'accès");
  await expect(page.locator('tr.current')).toContainText('Lié au matériel');

  // With the password, the passkey is asked for first; the weaker ways remain offered.
  await signOut(page);
  await gotoHydrated(page, '/connexion');
  await page.getByLabel('Adresse de messagerie sécurisée').fill(address);
  await page.getByLabel('Mot de passe', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Continuer' }).click();
  await expect(page.getByRole('heading', { name: 'Confirmez avec votre clé d’accès' })
    .or(page.getByRole('heading', { name: "Confirmez avec votre clé d'accès" }))).toBeVisible();
  await expect(page.getByLabel('Code de secours', { exact: true })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Recevoir le code par e-mail plutôt (moins sûr)' })).toBeVisible();
  await expectNoAxeViolations(page);
  await page.setViewportSize({ width: 375, height: 740 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  await page.getByRole('button', { name: "Utiliser ma clé d'accès" }).click();
  await expect(page).toHaveURL(/\/messagerie$/);
  expect(outboxCount(), 'still no code sent').toBe(before);
  const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId: id });
  expect(after.credentials[0].signCount, 'the counter rose with each signature').toBeGreaterThanOrEqual(2);

  // Removing the key: the sign-in falls back to a code.
  await gotoHydrated(page, '/compte');
  await page.getByRole('button', { name: 'Retirer le terminal Ordinateur de l’officine' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Terminal retiré.' })).toBeVisible();
  await expect(page.locator('.terminals li')).toHaveCount(0);
  expect(problems).toEqual([]);
});

test('a security key without a PIN is added and asked for after the password', async ({ page }) => {
  const problems = watchConsole(page);
  const bin = process.env.HYGIE_E2E_BIN;
  if (!bin) throw new Error('HYGIE_E2E_BIN is not set');
  const address = `hugo.faure.${Date.now()}@hygie.localhost`;
  const notification = 'hugo.faure@exemple.fr';
  const password = 'garde du dimanche soir';
  const before = outboxCount();
  execFileSync(bin, ['accounts', 'create', '--address', address, '--last-name', 'Faure', '--first-name', 'Hugo',
    '--authority', 'Centre médico-social', '--role', 'Éducateur', '--notification-email', notification], { stdio: 'pipe' });
  const invite = await nextOutbox(before, (m) => m.includes('Category: account.activation') && m.includes(`To: ${notification}\n`));
  await gotoHydrated(page, invite.match(/\/activation\/[0-9a-f]{64}/)![0]);
  await page.getByLabel('Nouveau mot de passe').fill(password);
  await page.getByRole('button', { name: 'Activer mon compte' }).click();
  await expect(page.getByText('Votre compte est activé')).toBeVisible();
  await signInToMailbox(page, address, password, notification);

  // A USB key that cannot verify who holds it (no PIN, no fingerprint).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: false,
      automaticPresenceSimulation: true },
  });
  await gotoHydrated(page, '/compte');
  await page.getByRole('button', { name: 'Ajouter une clé de sécurité sans code' }).click();
  await page.getByLabel('Nom du terminal').fill('Clé USB bleue');
  await page.getByRole('button', { name: 'Continuer' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'elle vous sera demandée après le mot de passe' })).toBeVisible();
  await expect(page.locator('.terminals li')).toContainText('Clé de sécurité (après le mot de passe)');
  await page.getByRole('button', { name: 'Je les ai mis en lieu sûr' }).click();

  // After the password it is the second factor (alone it signs nobody in: see the core tests).
  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await gotoHydrated(page, '/connexion');
  await page.getByLabel('Adresse de messagerie sécurisée').fill(address);
  await page.getByLabel('Mot de passe', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Continuer' }).click();
  await page.getByRole('button', { name: "Utiliser ma clé d'accès" }).click();
  await expect(page).toHaveURL(/\/messagerie$/);
  expect(problems).toEqual([]);
});
