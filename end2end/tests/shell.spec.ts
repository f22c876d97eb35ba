import { test, expect, Page } from '@playwright/test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { expectNoAxeViolations, gotoHydrated, watchConsole, signIn, nextOutbox, outboxCount } from './helpers';

// The webmail as an application: a compact bar instead of the portal's navigation, a dense list
// (at least 13 lines at 1280×800, 11 at 375×740), dates as people read them in Paris, the folders
// in a drawer on a phone. Each test has its own new account, signed in for the first time through
// the terms, with 24 messages imported.

const SHOTS = path.join(__dirname, '..', '..', 'screenshots');

/** An RFC 5322 date for `d` (UTC). */
const rfcDate = (d: Date) => d.toUTCString().replace('GMT', '+0000');

/** The first page of a new holder: created by the operator, activated, 24 messages imported. */
async function newHolderWithMail(page: Page, tag: string) {
  const bin = process.env.HYGIE_E2E_BIN;
  if (!bin) throw new Error('HYGIE_E2E_BIN is not set');
  const stamp = `${Date.now()}`;
  const address = `ines.morel.${tag}.${stamp}@hygie.localhost`;
  const notification = `ines.morel.${tag}.${stamp}@exemple.fr`;
  const password = 'garde de nuit du samedi';
  const before = outboxCount();
  execFileSync(bin, ['accounts', 'create', '--address', address, '--last-name', 'Morel', '--first-name', 'Inès',
    '--authority', 'Centre hospitalier de Vienne', '--role', 'Infirmière coordinatrice',
    '--notification-email', notification], { stdio: 'pipe' });
  const invite = await nextOutbox(before, (m) => m.includes('Category: account.activation') && m.includes(`To: ${notification}\n`));
  await gotoHydrated(page, invite.match(/\/activation\/[0-9a-f]{64}/)![0]);
  await page.getByLabel('Nouveau mot de passe').fill(password);
  await page.getByRole('button', { name: 'Activer mon compte' }).click();
  await expect(page.getByText('Votre compte est activé')).toBeVisible();

  // 24 messages: the newest now, then every 7 hours back (today, yesterday, this week, before).
  const now = Date.now();
  const senders = ['Dr Paul Lefèvre <paul.lefevre@chu-lyon.mssante.fr>', 'Laboratoire Bio Rhône <resultats@biorhone.mssante.fr>',
    'Pharmacie du Centre <officine@pharmacie-centre.mssante.fr>', 'EHPAD Les Tilleuls <accueil@ehpad-tilleuls.mssante.fr>'];
  const subjects = ['Résultats de bilan sanguin', 'Sortie d\'hospitalisation de Mme Perrin', 'Renouvellement d\'ordonnance',
    'Compte rendu de consultation', 'Demande d\'avis', 'Transmission infirmière'];
  const mbox = path.join(os.tmpdir(), `shell-${tag}-${stamp}.mbox`);
  const messages: string[] = [];
  for (let i = 0; i < 24; i++) {
    const at = new Date(now - i * 7 * 3600_000 - (i > 0 ? 60_000 : 0));
    messages.push([
      `From sender@mssante.fr ${at.toUTCString()}`,
      `From: ${senders[i % senders.length]}`,
      `To: ${address}`,
      `Subject: ${subjects[i % subjects.length]} (${i + 1})`,
      `Date: ${rfcDate(at)}`,
      `Message-ID: <shell-${stamp}-${i}@mssante.fr>`,
      '',
      `Bonjour, voici les éléments du dossier n° ${i + 1}, à lire avant la visite de demain matin.`,
      '',
    ].join('\n'));
  }
  fs.writeFileSync(mbox, messages.join('\n'));
  execFileSync(bin, ['mail', 'import', '--account', address, mbox], { stdio: 'pipe' });
  fs.rmSync(mbox);
  return { address, password, notification, newest: new Date(now) };
}

/** Signs in for the first time: the terms, then the mailbox; no refused request on the way. */
async function firstSignIn(page: Page, h: { address: string; password: string; notification: string }) {
  const refused: string[] = [];
  page.on('response', (r) => { if (r.status() >= 400 && r.url().includes('/api/')) refused.push(`${r.status()} ${r.url()}`); });
  await signIn(page, h.address, h.password, h.notification);
  await expect(page).toHaveURL(/\/compte\/cgu$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText("Conditions d'utilisation à accepter");
  await page.getByRole('button', { name: "J'accepte les conditions d'utilisation" }).click();
  await expect(page).toHaveURL(/\/messagerie$/);
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.locator('.message-list li')).toHaveCount(24);
  return refused;
}

/** Message lines wholly inside the viewport. */
async function linesInView(page: Page): Promise<number> {
  return page.evaluate(() => {
    const h = window.innerHeight;
    return Array.from(document.querySelectorAll('.message-list li')).filter((li) => {
      const r = li.getBoundingClientRect();
      return r.top >= 0 && r.bottom <= h && r.height > 0;
    }).length;
  });
}

const overflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

/** HH:MM of `d` in Paris. */
const parisTime = (d: Date) => new Intl.DateTimeFormat('fr-FR', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit' }).format(d);

test.describe('at 1280×800', () => {
  test.use({ viewport: { width: 1280, height: 800 } });

  test('an application bar, a dense list, Paris times, the selection toolbar on demand', async ({ page }) => {
    const problems = watchConsole(page);
    const h = await newHolderWithMail(page, 'large');
    const refused = await firstSignIn(page, h);
    expect(refused).toEqual([]);

    // No portal navigation in the webmail; the portal is one link away in the footer.
    await expect(page.getByRole('navigation', { name: 'Navigation principale' })).toHaveCount(0);
    await expect(page.getByRole('contentinfo').getByRole('link', { name: /Portail Hygie/ })).toBeVisible();
    await expect(page.getByRole('banner').getByRole('searchbox', { name: 'Rechercher dans vos messages' })).toBeVisible();

    // Dense: at least 13 lines on the first screen.
    const shown = await linesInView(page);
    console.log(`lines visible at 1280×800: ${shown}`);
    expect(shown).toBeGreaterThanOrEqual(13);
    expect(await overflow(page)).toBeLessThanOrEqual(0);

    // Today's message says its Paris time; the full date is in its title and for screen readers.
    const newest = page.locator('.message-list li').first().locator('time');
    await expect(newest.locator('[aria-hidden="true"]')).toHaveText(parisTime(h.newest));
    await expect(newest).toHaveAttribute('title', /heure de Paris/);
    await expect(newest).toHaveAttribute('datetime', /Z$/);
    // Yesterday's reads "hier".
    await expect(page.locator('.message-list time [aria-hidden="true"]').filter({ hasText: /^hier$/ }).first()).toBeVisible();

    // The selection's actions only once something is selected; the rarer ones in a menu.
    await expect(page.getByRole('toolbar')).toHaveCount(0);
    await page.locator('.message-list li').nth(1).getByRole('checkbox').check();
    const toolbar = page.getByRole('toolbar', { name: 'Actions sur la sélection' });
    await expect(toolbar).toBeVisible();
    await expect(toolbar).toContainText('1 sélectionné(s)');
    await toolbar.locator('summary', { hasText: "Plus d'actions" }).click();
    await toolbar.getByRole('button', { name: 'Suivre', exact: true }).click();
    await expect(page.getByText('1 message(s) modifié(s).')).toBeVisible();
    // The flag is an icon with a text alternative, not a missing glyph.
    await expect(page.locator('.message-list li').nth(1).getByRole('img', { name: 'suivi' })).toBeVisible();
    await expect(page.getByRole('toolbar')).toHaveCount(0);
    await expectNoAxeViolations(page);
    await page.screenshot({ path: path.join(SHOTS, 'mailbox-1280x800.png') });

    // Reading pane: the folder's list stays beside the message; j and k move through it and the
    // address stays the message's own.
    await page.locator('.message-list li > a').nth(2).click();
    await expect(page).toHaveURL(/\/messagerie\/message\/\d+$/);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(/Renouvellement d'ordonnance \(3\)/);
    const pane = page.getByRole('region', { name: 'Messages du dossier' });
    await expect(pane.locator('.message-list li')).toHaveCount(24);
    await expect(pane.locator('a[aria-current="true"]')).toContainText('(3)');
    // The message's own date in Paris time too.
    await expect(page.locator('.message-headers time')).toContainText('heure de Paris');
    const paneLines = await pane.locator('.message-list li').evaluateAll((lis) =>
      lis.filter((li) => { const r = li.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }).length);
    console.log(`lines visible beside the message at 1280×800: ${paneLines}`);
    expect(paneLines).toBeGreaterThanOrEqual(13);
    const third = page.url();
    await page.keyboard.press('j');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(/\(4\)/);
    await expect(pane.locator('a[aria-current="true"]')).toContainText('(4)');
    expect(page.url()).not.toEqual(third);
    await page.keyboard.press('k');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(/\(3\)/);
    expect(page.url()).toEqual(third);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await expectNoAxeViolations(page);
    await page.screenshot({ path: path.join(SHOTS, 'reading-1280x800.png') });

    // Dark: the device's setting, or the holder's choice in the account menu; AA both ways.
    await page.emulateMedia({ colorScheme: 'dark' });
    await expectNoAxeViolations(page);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.getByRole('banner').locator('summary', { hasText: 'Menu du compte' }).click();
    await page.getByRole('link', { name: 'Thème : Sombre' }).click();
    await expect(page.locator('html[data-theme="dark"]')).toHaveCount(1);
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(/\(3\)/);
    await expectNoAxeViolations(page);
    await page.screenshot({ path: path.join(SHOTS, 'reading-1280x800-dark.png') });
    await page.goto('/messagerie');
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await expectNoAxeViolations(page);
    await page.screenshot({ path: path.join(SHOTS, 'mailbox-1280x800-dark.png') });
    expect(problems).toEqual([]);
  });
});

test.describe('at 375×740', () => {
  test.use({ viewport: { width: 375, height: 740 } });

  test('list first, folders in a keyboard drawer, "Écrire" floating, density kept', async ({ page }) => {
    const problems = watchConsole(page);
    const h = await newHolderWithMail(page, 'phone');
    const refused = await firstSignIn(page, h);
    expect(refused).toEqual([]);

    const shown = await linesInView(page);
    console.log(`lines visible at 375×740: ${shown}`);
    expect(shown).toBeGreaterThanOrEqual(11);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await expect(page.locator('.message-list li').first().locator('time [aria-hidden="true"]')).toHaveText(parisTime(h.newest));
    // "Écrire" floats over the list, inside the screen.
    const write = page.getByRole('link', { name: 'Écrire' });
    const box = (await write.boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(740);
    expect(box.x + box.width).toBeLessThanOrEqual(375);
    await expectNoAxeViolations(page);
    await page.screenshot({ path: path.join(SHOTS, 'mailbox-375x740.png') });

    // The folders: a drawer, opened and closed with the keyboard; the focus stays inside.
    const folders = page.getByRole('navigation', { name: 'Dossiers' });
    await expect(folders).toBeHidden();
    const opener = page.getByRole('button', { name: 'Dossiers', exact: true });
    await opener.focus();
    await page.keyboard.press('Enter');
    await expect(folders).toBeVisible();
    await expect(opener).toHaveAttribute('aria-expanded', 'true');
    await expect(page.getByRole('button', { name: 'Fermer les dossiers' })).toBeFocused();
    for (let i = 0; i < 15; i++) {
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => !!document.activeElement?.closest('#mail-folders'))).toBe(true);
    }
    await page.getByRole('button', { name: 'Fermer les dossiers' }).focus();
    await page.keyboard.press('Shift+Tab');
    expect(await page.evaluate(() => !!document.activeElement?.closest('#mail-folders'))).toBe(true);
    await expectNoAxeViolations(page);
    await page.screenshot({ path: path.join(SHOTS, 'drawer-375x740.png') });
    await page.keyboard.press('Escape');
    await expect(folders).toBeHidden();
    await expect(opener).toBeFocused();
    // Chosen from the drawer, a folder opens and the drawer closes.
    await page.keyboard.press('Enter');
    await folders.getByRole('link', { name: 'Envoyés' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Envoyés');
    await expect(folders).toBeHidden();
    await page.goBack();
    await expect(page.locator('.message-list li')).toHaveCount(24);

    // Compact: more lines; kept for the account.
    await page.locator('.view-menu summary').click();
    await page.getByRole('radio', { name: 'Compact' }).check();
    await expect(page.locator('.message-list')).toHaveClass(/compact/);
    await page.keyboard.press('Escape');
    await page.reload();
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await expect(page.locator('.message-list')).toHaveClass(/compact/);
    const compact = await linesInView(page);
    console.log(`lines visible at 375×740, compact: ${compact}`);
    expect(compact).toBeGreaterThan(shown);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(SHOTS, 'mailbox-375x740-compact.png') });

    // On a phone a message takes the screen, with back and next.
    await page.locator('.message-list li > a').first().click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(/\(1\)/);
    await expect(page.getByRole('region', { name: 'Messages du dossier' })).toBeHidden();
    await page.getByRole('link', { name: 'Message suivant' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(/\(2\)/);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await expectNoAxeViolations(page);
    await page.screenshot({ path: path.join(SHOTS, 'reading-375x740.png') });
    await page.getByRole('link', { name: 'Retour à la liste' }).first().click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Boîte de réception');

    // Dark, as the device says.
    await page.emulateMedia({ colorScheme: 'dark' });
    await expectNoAxeViolations(page);
    await page.screenshot({ path: path.join(SHOTS, 'mailbox-375x740-dark.png') });
    expect(problems).toEqual([]);
  });
});
