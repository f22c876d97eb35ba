import { test, expect } from '@playwright/test';
import { expectNoAxeViolations, watchConsole, signInToMailbox, DEMO } from './helpers';

test.describe.configure({ mode: 'serial' });

test('a read receipt is asked on opening, sent once, and the sender sees "Lu" on the timeline', async ({ page, browser }) => {
  // Sending waits for the undo delay (10 s by default); the request for a receipt waits with it.
  test.slow();
  const problems = watchConsole(page);
  const subject = `Accusé demandé ${Date.now()}`;
  await signInToMailbox(page, DEMO.social.address, DEMO.social.password, DEMO.social.mobile);
  await page.getByRole('link', { name: 'Écrire' }).click();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await page.getByLabel('À', { exact: true }).fill(DEMO.nurse.address);
  await page.getByLabel('Objet').fill(subject);
  await page.getByLabel('Message', { exact: true }).fill('Pansement à refaire jeudi.');
  await page.getByLabel('Demander un accusé de lecture').check();
  await page.getByRole('button', { name: 'Envoyer' }).click();
  await expect(page).toHaveURL(/\/messagerie\/envoyes\?envoye=1$/, { timeout: 30_000 });
  const sentLine = page.locator('.message-list li').filter({ hasText: subject });
  await expect(sentLine.getByRole('img', { name: 'Remis à tous les destinataires' })).toBeVisible({ timeout: 30_000 });

  // The nurse opens it and is asked.
  const other = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'fr-FR' });
  const nurse = await other.newPage();
  const nurseProblems = watchConsole(nurse);
  await signInToMailbox(nurse, DEMO.nurse.address, DEMO.nurse.password, DEMO.nurse.email);
  await nurse.locator('.message-list li').filter({ hasText: subject }).getByRole('link').click();
  await expect(nurse.locator('body[data-hydrated="true"]')).toHaveCount(1);
  const prompt = nurse.getByRole('group', { name: "L'expéditeur demande un accusé de lecture. L'envoyer ?" });
  await expect(prompt).toBeVisible();
  await expectNoAxeViolations(nurse);
  await prompt.getByRole('button', { name: "Envoyer l'accusé de lecture" }).click();
  await expect(nurse.getByRole('status')).toHaveText("Accusé de lecture envoyé à l'expéditeur.");
  // Opened again: not asked again.
  await nurse.reload();
  await expect(nurse.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(nurse.getByRole('group', { name: "L'expéditeur demande un accusé de lecture. L'envoyer ?" })).toHaveCount(0);
  await expect(nurse.getByText("Accusé de lecture envoyé à l'expéditeur.")).toBeVisible();

  // The doctor's Sent copy: the timeline says "Lu", with its time in Paris.
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(sentLine.getByRole('img', { name: 'Lu par tous les destinataires' })).toBeVisible();
  await sentLine.getByRole('link').click();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  const timeline = page.getByRole('region', { name: 'Suivi par destinataire' });
  await expect(timeline).toContainText(DEMO.nurse.address);
  await expect(timeline.locator('.step-read')).toContainText('Lu');
  await expect(timeline.locator('.step-read')).toContainText('(heure de Paris)');
  await expectNoAxeViolations(page);
  // The receipt is reachable from the timeline, and is not asked to be answered.
  await timeline.locator('.step-read').getByRole('link', { name: 'voir le rapport' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Accusé de lecture');
  await expect(page.getByRole('group', { name: "L'expéditeur demande un accusé de lecture. L'envoyer ?" })).toHaveCount(0);

  expect(problems).toEqual([]);
  expect(nurseProblems).toEqual([]);
  await other.close();
});

test.describe('on a 375 px phone', () => {
  test.use({ viewport: { width: 375, height: 740 } });

  test('the timeline and the list marks fit and pass axe', async ({ page }) => {
    await signInToMailbox(page, DEMO.social.address, DEMO.social.password, DEMO.social.mobile);
    // On a phone the folders are in a drawer.
    await page.getByRole('button', { name: 'Dossiers', exact: true }).click();
    await page.getByRole('link', { name: 'Envoyés' }).first().click();
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    const line = page.locator('.message-list li').filter({ hasText: 'Accusé demandé' }).first();
    await expect(line.getByRole('img', { name: 'Lu par tous les destinataires' })).toBeVisible();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await expectNoAxeViolations(page);
    await line.getByRole('link').click();
    await expect(page.getByRole('region', { name: 'Suivi par destinataire' })).toBeVisible();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await expectNoAxeViolations(page);
  });
});
