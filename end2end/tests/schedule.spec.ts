import { test, expect } from '@playwright/test';
import { expectNoAxeViolations, watchConsole, signInToMailbox, DEMO } from './helpers';

test.describe.configure({ mode: 'serial' });

/** `YYYY-MM-DD` and `DD/MM/YYYY` of the day `offset` days from now, in Paris. */
function parisDay(offset: number): { iso: string; fr: string } {
  const when = new Date(Date.now() + offset * 86_400_000);
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(when);
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return { iso: `${get('year')}-${get('month')}-${get('day')}`, fr: `${get('day')}/${get('month')}/${get('year')}` };
}

test('a message sent with a delay is taken back, then scheduled in Paris time, listed and cancelled', async ({ page }) => {
  const problems = watchConsole(page);
  await signInToMailbox(page, DEMO.social.address, DEMO.social.password, DEMO.social.mobile);

  // The undo delay is a setting of the account: 10 s unless changed.
  await page.goto('/compte');
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.getByLabel('Délai pour annuler un envoi')).toHaveValue('10');

  await page.goto('/messagerie/ecrire');
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await page.getByLabel('À', { exact: true }).fill(DEMO.nurse.address);
  await page.getByLabel('Objet').fill('Visite de Mme Petit');
  await page.getByLabel('Message', { exact: true }).fill('Pouvez-vous passer chez Mme Petit demain matin ?');
  await page.getByRole('button', { name: 'Envoyer' }).click();

  // "Envoi dans N s" with "Annuler"; taken back, the message is in the composer again as a draft.
  await expect(page.getByRole('status').filter({ hasText: /Envoi dans \d+ s/ })).toBeVisible();
  await expectNoAxeViolations(page);
  await page.getByRole('button', { name: 'Annuler', exact: true }).click();
  await expect(page).toHaveURL(/\/messagerie\/ecrire\?brouillon=\d+&annule=1$/);
  await expect(page.getByText('Envoi annulé : le message est de nouveau un brouillon.')).toBeVisible();
  await expect(page.getByLabel('Objet')).toHaveValue('Visite de Mme Petit');
  await expect(page.getByLabel('Message', { exact: true })).toHaveValue('Pouvez-vous passer chez Mme Petit demain matin ?');
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);

  // Scheduled: a past time is refused with a clear error; tomorrow at 09:30 (Paris) is taken.
  await page.getByText("Programmer l'envoi").click();
  const yesterday = parisDay(-1);
  await page.getByLabel('Date', { exact: true }).fill(yesterday.iso);
  await page.getByLabel('Heure (heure de Paris)').fill('09:30');
  await page.getByRole('button', { name: 'Programmer', exact: true }).click();
  await expect(page.locator('#compose-send_at-error')).toContainText('Ce moment est déjà passé');
  const tomorrow = parisDay(1);
  await page.getByLabel('Date', { exact: true }).fill(tomorrow.iso);
  await page.getByRole('button', { name: 'Programmer', exact: true }).click();
  await expect(page).toHaveURL(/\/messagerie\/programmes\?programme=1$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Messages programmés');
  await expect(page.getByText('Message programmé.')).toBeVisible();
  const item = page.locator('.scheduled-item').filter({ hasText: 'Visite de Mme Petit' });
  await expect(item).toContainText(`Envoi le ${tomorrow.fr} 09:30 (heure de Paris)`);
  await expect(item).toContainText(DEMO.nurse.address);
  await expect(page.getByRole('link', { name: 'Programmés' })).toHaveAttribute('aria-current', 'page');
  await expectNoAxeViolations(page);

  // The time moves: 10:15.
  await item.getByText("Changer l'heure").click();
  await item.getByLabel('Heure (heure de Paris)').fill('10:15');
  await item.getByRole('button', { name: "Enregistrer l'heure" }).click();
  await expect(page.getByText("Heure d'envoi modifiée.")).toBeVisible();
  await expect(item).toContainText(`Envoi le ${tomorrow.fr} 10:15 (heure de Paris)`);

  // At 375 px: nothing wider than the screen, still clean.
  await page.setViewportSize({ width: 375, height: 800 });
  await expect(item).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await expectNoAxeViolations(page);
  await page.setViewportSize({ width: 1280, height: 800 });

  // Cancelled: nothing scheduled, the message waits in Drafts.
  await item.getByRole('button', { name: "Annuler l'envoi" }).click();
  await expect(page.getByText('Envoi annulé : le message est dans vos brouillons.')).toBeVisible();
  await expect(page.getByText('Aucun message programmé.')).toBeVisible();
  await page.getByRole('link', { name: 'Brouillons' }).click();
  await expect(page.locator('.message-list li').filter({ hasText: 'Visite de Mme Petit' })).toHaveCount(1);
  expect(problems).toEqual([]);
});
