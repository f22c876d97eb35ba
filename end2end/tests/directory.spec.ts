import { test, expect, Page } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expectNoAxeViolations, watchConsole, signInToMailbox, gotoHydrated, DEMO } from './helpers';

test.describe.configure({ mode: 'serial' });

/** A national extract line: 31 `|`-separated fields, from the ones given (index → value). */
function line(fields: Record<number, string>): string {
  const f = Array(31).fill('');
  for (const [i, v] of Object.entries(fields)) f[Number(i)] = v;
  return f.join('|');
}

function doctor(address: string, last: string, first: string, specialty: string, postcode: string, city: string, rpps: string) {
  return line({ 0: 'PER', 1: address, 2: '8', 3: rpps, 8: 'DR', 9: last, 10: first, 14: 'Médecin', 16: specialty,
    17: 'True', 22: '4', 24: 'RUE', 25: 'DES ÉCOLES', 27: `${postcode} ${city}`, 28: postcode, 29: postcode.slice(0, 2), 30: 'France' });
}

test.beforeAll(() => {
  const header = Array.from({ length: 31 }, (_, i) => (i === 0 ? 'Type de BAL' : `Colonne ${i + 1}`)).join('|');
  const lines = [
    header,
    doctor('jean.martin@med.mssante.fr', 'MARTIN', 'Jean', 'Cardiologie et maladies vasculaires', '69003', 'LYON', '10001110001'),
    doctor('jeanne.martineau@med.mssante.fr', 'MARTINEAU', 'Jeanne', 'Pédiatrie', '75015', 'PARIS', '10001110002'),
    doctor('hugo.leroux@med.mssante.fr', 'LEROUX', 'Hugo', 'Cardiologie et maladies vasculaires', '75011', 'PARIS', '10001110003'),
    line({ 0: 'ORG', 1: 'urgences@ch-lyon.mssante.fr', 7: 'Urgences', 18: 'Centre hospitalier de Lyon', 27: '69003 LYON', 28: '69003', 29: '69' }),
    'PER|ligne.cassee@med.mssante.fr',
  ];
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hygie-annuaire-')), 'extraction.txt');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const bin = process.env.HYGIE_E2E_BIN;
  if (!bin) throw new Error('HYGIE_E2E_BIN is not set');
  const out = execFileSync(bin, ['directory', 'import', file], { encoding: 'utf8' });
  expect(out).toContain('line 6: 2 fields instead of 31');
  expect(out).toContain('4 entries imported');
});

async function searchByName(page: Page, name: string) {
  await gotoHydrated(page, '/annuaire');
  await page.getByLabel('Nom, prénom ou adresse').fill(name);
  await page.getByRole('button', { name: "Rechercher dans l'annuaire" }).click();
  await expect(page).toHaveURL(new RegExp(`/annuaire\\?q=${encodeURIComponent(name)}`));
}

test('a social worker finds colleagues by name and by specialty and city, opens one and writes to them', async ({ page }) => {
  // Sending waits for the undo delay (10 s by default).
  test.slow();
  const problems = watchConsole(page);
  await signInToMailbox(page, DEMO.social.address, DEMO.social.password, DEMO.social.mobile);
  await page.getByRole('link', { name: 'Annuaire' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Annuaire des correspondants');
  await expectNoAxeViolations(page);

  // A name prefix, without accents or capitals: the extract and this service's accounts.
  await searchByName(page, 'MARTI');
  const results = page.locator('.directory-list li');
  await expect(results).toHaveCount(3);
  await expect(results.nth(0)).toContainText('Dr Jean MARTIN');
  await expect(results.nth(0)).toContainText('Cardiologie et maladies vasculaires');
  await expect(results.nth(0)).toContainText('69003 LYON');
  await expect(results.nth(1)).toContainText('Louis Martin');
  await expect(results.nth(2)).toContainText('Dr Jeanne MARTINEAU');
  await expectNoAxeViolations(page);

  // Specialty and city.
  await gotoHydrated(page, '/annuaire');
  await page.getByLabel('Spécialité').fill('cardio');
  await page.getByLabel('Ville, code postal ou département').fill('Lyon');
  await page.getByRole('button', { name: "Rechercher dans l'annuaire" }).click();
  await expect(results).toHaveCount(1);
  await expect(results.first()).toContainText('Dr Jean MARTIN');
  await gotoHydrated(page, '/annuaire?specialite=cardio&lieu=75');
  await expect(results).toHaveCount(1);
  await expect(results.first()).toContainText('Dr Hugo LEROUX');

  // The doctor's entry (an account of this service), then write to her from there.
  await searchByName(page, 'camille');
  await page.getByRole('link', { name: 'Camille Durand', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Camille Durand');
  await expect(page.locator('.details')).toContainText(DEMO.doctor.address);
  await expect(page.locator('.details')).toContainText('Compte de ce service');
  await expectNoAxeViolations(page);
  await page.getByRole('link', { name: 'Écrire à Camille Durand' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Nouveau message');
  await expect(page.getByLabel('À', { exact: true })).toHaveValue(DEMO.doctor.address);
  await page.getByLabel('Objet').fill("Trouvé dans l'annuaire");
  await page.getByRole('button', { name: 'Envoyer' }).click();
  await expect(page.getByText('Message envoyé.')).toBeVisible({ timeout: 30_000 });

  // A national entry's page.
  await searchByName(page, 'leroux');
  await page.getByRole('link', { name: 'Dr Hugo LEROUX', exact: true }).click();
  await expect(page.locator('.details')).toContainText('RPPS 10001110003');
  await expect(page.locator('.details')).toContainText('Ne souhaite plus recevoir de documents papier');
  await expect(page.locator('.details')).toContainText('Annuaire national MSSanté');
  expect(problems).toEqual([]);
});

test('the composer suggests correspondents from two letters, chosen with the keyboard', async ({ page }) => {
  const problems = watchConsole(page);
  await signInToMailbox(page, DEMO.social.address, DEMO.social.password, DEMO.social.mobile);
  await gotoHydrated(page, '/messagerie/ecrire');
  const to = page.getByRole('combobox', { name: 'À', exact: true });
  await to.pressSequentially('l');
  await page.waitForTimeout(500);
  await expect(page.locator('#compose-to-suggestions')).toBeHidden();
  await to.pressSequentially('ou');
  const options = page.getByRole('listbox').getByRole('option');
  await expect(options).toHaveCount(1);
  await expect(options.first()).toContainText('Louis Martin');
  await expect(to).toHaveAttribute('aria-expanded', 'true');
  await expectNoAxeViolations(page);
  await to.press('ArrowDown');
  await expect(options.first()).toHaveAttribute('aria-selected', 'true');
  await to.press('Enter');
  await expect(to).toHaveValue(`${DEMO.nurse.address}, `);
  await expect(to).toHaveAttribute('aria-expanded', 'false');

  // A second recipient, in Cc, from the extract: shown with profession and place.
  const cc = page.getByRole('combobox', { name: 'Cc', exact: true });
  await cc.pressSequentially('mart');
  await expect(options).toHaveCount(3);
  await expect(options.nth(0)).toContainText('Cardiologie et maladies vasculaires — 69003 LYON');
  await cc.press('ArrowUp');
  await expect(options.nth(2)).toHaveAttribute('aria-selected', 'true');
  await cc.press('Escape');
  await expect(options).toHaveCount(0);
  await expect(cc).toHaveValue('mart');
  expect(problems).toEqual([]);
});

test('on the liste rouge, a holder disappears from everyone else’s searches', async ({ page, browser }) => {
  const problems = watchConsole(page);
  await signInToMailbox(page, DEMO.social.address, DEMO.social.password, DEMO.social.mobile);
  await searchByName(page, 'louis');
  await expect(page.locator('.directory-list li')).toHaveCount(1);

  const other = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'fr-FR' });
  const nurse = await other.newPage();
  await signInToMailbox(nurse, DEMO.nurse.address, DEMO.nurse.password, DEMO.nurse.email);
  const setListeRouge = async (on: boolean) => {
    await gotoHydrated(nurse, '/compte');
    const box = nurse.getByLabel("Liste rouge : ne pas figurer dans l'annuaire");
    await box.setChecked(on);
    await nurse.locator('form', { has: box }).getByRole('button').click();
    await expect(nurse.locator('form', { has: box }).getByRole('status')).toBeVisible();
  };
  await setListeRouge(true);

  await searchByName(page, 'louis');
  await expect(page.getByText('Aucun correspondant ne correspond à cette recherche.')).toBeVisible();
  await searchByName(page, DEMO.nurse.address);
  await expect(page.getByText('Aucun correspondant ne correspond à cette recherche.')).toBeVisible();
  await gotoHydrated(page, '/annuaire?q=marti');
  await expect(page.locator('.directory-list li')).toHaveCount(2);
  await expect(page.locator('.directory-list')).not.toContainText('Louis');
  await gotoHydrated(page, '/messagerie/ecrire');
  await page.getByRole('combobox', { name: 'À', exact: true }).pressSequentially('louis');
  await page.waitForTimeout(800);
  await expect(page.getByRole('listbox').getByRole('option')).toHaveCount(0);

  await setListeRouge(false);
  await searchByName(page, 'louis');
  await expect(page.locator('.directory-list li')).toHaveCount(1);
  await other.close();
  expect(problems).toEqual([]);
});

test('the directory reads well at 375 px', async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 800 });
  await signInToMailbox(page, DEMO.social.address, DEMO.social.password, DEMO.social.mobile);
  await gotoHydrated(page, '/annuaire?q=mart');
  await expect(page.locator('.directory-list li')).toHaveCount(3);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await expectNoAxeViolations(page);
});
