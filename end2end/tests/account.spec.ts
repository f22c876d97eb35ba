import { test, expect, Page } from '@playwright/test';
import { gotoHydrated, expectNoAxeViolations, watchConsole, outboxCount, nextOutbox, codeOf, signIn, DEMO } from './helpers';

// These tests share the demonstration accounts: they run one after the other, in this order.
test.describe.configure({ mode: 'serial' });

async function fitsPhone(page: Page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
}

test('wrong password and wrong code get clear French messages', async ({ page }) => {
  const problems = watchConsole(page);
  await gotoHydrated(page, '/connexion');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Connexion à votre messagerie');
  await expectNoAxeViolations(page);

  // Keyboard only: type, Enter submits.
  await page.getByLabel('Adresse de messagerie sécurisée').fill(DEMO.nurse.address);
  await page.getByLabel('Mot de passe', { exact: true }).fill('pas le bon mot de passe');
  await page.keyboard.press('Enter');
  const alert = page.locator('.error-summary');
  await expect(alert).toContainText('Adresse ou mot de passe incorrect.');
  await expect(alert).toBeFocused();
  await expectNoAxeViolations(page);

  const before = outboxCount();
  await page.getByLabel('Mot de passe', { exact: true }).fill(DEMO.nurse.password);
  await page.getByRole('button', { name: 'Continuer' }).click();
  // No mobile: the code goes by email, said so.
  await expect(page.getByText(/envoyé par e-mail à l•••@exemple\.fr/)).toBeVisible();
  await expectNoAxeViolations(page);
  const message = await nextOutbox(before, (m) => m.includes(`To: ${DEMO.nurse.email}\n`));
  const code = codeOf(message);
  const wrong = String((Number(code) + 1) % 1000000).padStart(6, '0');
  await page.getByLabel('Code à 6 chiffres').fill(wrong);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await expect(alert).toContainText('Code incorrect. Il vous reste 4 essai(s).');
  await page.getByLabel('Code à 6 chiffres').fill('12a');
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await expect(alert).toContainText('Le code comporte 6 chiffres.');
  await expectNoAxeViolations(page);
  expect(problems).toEqual([]);
});

test('a doctor signs in with the SMS code, accepts the terms, changes her mobile, ends another session and signs out', async ({ page, browser }) => {
  const problems = watchConsole(page);
  await signIn(page, DEMO.doctor.address, DEMO.doctor.password, DEMO.doctor.mobile);

  // The terms come first.
  await expect(page).toHaveURL(/\/compte\/cgu$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText("Conditions d'utilisation à accepter");
  await expectNoAxeViolations(page);
  await page.getByRole('button', { name: "J'accepte les conditions d'utilisation" }).click();

  // Then the mailbox; the account page is one link away.
  await expect(page).toHaveURL(/\/messagerie$/);
  await page.getByRole('banner').locator('summary', { hasText: 'Menu du compte' }).click();
  await page.getByRole('link', { name: 'Mon compte' }).click();
  await expect(page).toHaveURL(/\/compte$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Mon compte');
  await expect(page.getByText(DEMO.doctor.address)).toBeVisible();
  await expectNoAxeViolations(page);

  // New mobile number, confirmed by a code sent to it.
  await page.getByRole('button', { name: 'Modifier — Téléphone mobile' }).click();
  await page.getByLabel('Nouveau numéro de mobile').fill('07 98 76 54 32');
  const before = outboxCount();
  await page.getByRole('button', { name: 'Recevoir un code de confirmation' }).click();
  await expect(page.getByText(/Un code de confirmation a été envoyé par SMS/)).toBeVisible();
  await expectNoAxeViolations(page);
  const sms = await nextOutbox(before, (m) => m.includes('To: +33798765432\n'));
  await page.getByLabel('Code à 6 chiffres').fill(codeOf(sms));
  await page.getByRole('button', { name: 'Confirmer' }).click();
  await expect(page.getByText('••••••5432')).toBeVisible();

  // Another device signs in (the code now goes to the new number).
  const other = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'fr-FR' });
  const phone = await other.newPage();
  await signIn(phone, DEMO.doctor.address, DEMO.doctor.password, '+33798765432');
  await expect(phone).toHaveURL(/\/messagerie$/);

  // It shows up here; end it.
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  const rows = page.locator('table.sessions tbody tr');
  await expect(rows).toHaveCount(2);
  await expect(page.getByText('Cette session')).toBeVisible();
  await page.getByRole('button', { name: /^Fermer la session/ }).click();
  await expect(page.getByText('1 session(s) fermée(s).')).toBeVisible();
  await expect(rows).toHaveCount(1);
  await phone.goto('/compte');
  await expect(phone).toHaveURL(/\/connexion$/);
  await other.close();

  // Signing out ends this session too.
  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await expect(page).toHaveURL(/\/connexion$/);
  // The header follows at once: sign in again, no mailbox link.
  await expect(page.getByRole('banner').getByRole('link', { name: 'Se connecter' })).toBeVisible();
  await expect(page.getByRole('banner').getByRole('link', { name: 'Mon compte' })).toHaveCount(0);
  await page.goto('/compte');
  await expect(page).toHaveURL(/\/connexion$/);
  expect(problems).toEqual([]);
});

test.describe('on a 375 px phone', () => {
  test.use({ viewport: { width: 375, height: 740 } });

  test('signing in and the account page fit and pass axe', async ({ page }) => {
    await signIn(page, DEMO.social.address, DEMO.social.password, DEMO.social.mobile);
    await expect(page).toHaveURL(/\/compte\/cgu$/);
    await fitsPhone(page);
    await page.getByRole('button', { name: "J'accepte les conditions d'utilisation" }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Boîte de réception');
    await fitsPhone(page);
    await expectNoAxeViolations(page);
    await gotoHydrated(page, '/compte');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Mon compte');
    await fitsPhone(page);
    await expectNoAxeViolations(page);
    await gotoHydrated(page, '/mot-de-passe-oublie');
    await fitsPhone(page);
    await expectNoAxeViolations(page);
  });
});
