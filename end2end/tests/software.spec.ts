import { test, expect } from '@playwright/test';
import { execFileSync } from 'child_process';
import { DEMO, gotoHydrated, expectNoAxeViolations, watchConsole, signInToMailbox } from './helpers';

test('a social worker connects her practice software with the code it shows, then withdraws its access', async ({ page }) => {
  const problems = watchConsole(page);
  const bin = process.env.HYGIE_E2E_BIN;
  if (!bin) throw new Error('HYGIE_E2E_BIN is not set');
  // The operator registered the software once.
  const clientId = execFileSync(bin, ['oauth', 'add-client', 'Logiciel du cabinet'], { encoding: 'utf8' }).trim();
  expect(clientId).toMatch(/^hygie-[0-9a-f]{24}$/);

  // The software asks for access and shows a code.
  const asked = await page.request.post('/oauth/device_authorization', { form: { client_id: clientId, scope: 'mail' } });
  expect(asked.status()).toBe(200);
  const device = await asked.json();
  expect(device.verification_uri).toMatch(/\/appareil$/);

  await page.setViewportSize({ width: 375, height: 740 });
  await signInToMailbox(page, DEMO.social.address, DEMO.social.password, DEMO.social.mobile);
  await gotoHydrated(page, '/appareil');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Connecter un logiciel');
  await expectNoAxeViolations(page);
  // A mistyped code is said so, next to the field.
  await page.getByLabel('Code affiché par le logiciel').fill('BBBB-BBBB');
  await page.getByRole('button', { name: 'Continuer' }).click();
  await expect(page.locator('.field-error')).toContainText("Ce code n'existe pas ou a expiré");
  await page.getByLabel('Code affiché par le logiciel').fill(device.user_code.toLowerCase());
  await page.getByRole('button', { name: 'Continuer' }).click();
  await expect(page.getByText('« Logiciel du cabinet » demande l\'accès à votre messagerie')).toBeVisible();
  await expectNoAxeViolations(page);
  await page.getByRole('button', { name: 'Autoriser' }).click();
  await expect(page.getByRole('status')).toContainText('« Logiciel du cabinet » a accès à votre messagerie');
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);

  // The software gets its tokens and reads the mailbox.
  const tokens = await page.request.post('/oauth/token', {
    form: { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', client_id: clientId, device_code: device.device_code },
  });
  expect(tokens.status()).toBe(200);
  const { access_token } = await tokens.json();
  const api = () => page.request.get('/api/v1/folders', { headers: { Authorization: `Bearer ${access_token}` } });
  expect((await api()).status()).toBe(200);

  // In the account, the software is listed; withdrawn, it can read nothing more.
  await gotoHydrated(page, '/compte');
  await expect(page.getByRole('heading', { name: 'Logiciels et clients connectés' })).toBeVisible();
  await expectNoAxeViolations(page);
  await page.getByRole('button', { name: "Retirer l'accès de Logiciel du cabinet" }).click();
  await expect(page.getByText("Aucun logiciel n'a accès à votre messagerie.")).toBeVisible();
  expect((await api()).status()).toBe(401);
  expect(problems).toEqual([]);
});
