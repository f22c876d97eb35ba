import { test, expect } from '@playwright/test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { expectNoAxeViolations, gotoHydrated, watchConsole, signInToMailbox, nextOutbox, samplePdf, DEMO } from './helpers';

test.describe.configure({ mode: 'serial' });

test('a social worker writes to a nurse, who reads and replies; the reply comes back', async ({ page, browser }) => {
  // Sending waits for the undo delay (10 s by default).
  test.slow();
  const problems = watchConsole(page);
  await signInToMailbox(page, DEMO.social.address, DEMO.social.password, DEMO.social.mobile);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Boîte de réception');
  // Signed in: an application's bar, not the portal's navigation; its account menu leads to the
  // account and to the portal; no cookie banner (nothing is measured in the mailbox).
  const header = page.getByRole('banner');
  await expect(page.getByRole('navigation', { name: 'Navigation principale' })).toHaveCount(0);
  await header.locator('summary', { hasText: 'Menu du compte' }).click();
  await expect(header.getByRole('link', { name: 'Mon compte' })).toBeVisible();
  await expect(header.getByRole('link', { name: /Portail Hygie/ })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(header.getByRole('link', { name: 'Mon compte' })).toBeHidden();
  await expect(header.getByRole('link', { name: 'Se connecter' })).toHaveCount(0);
  await expect(page.getByRole('region', { name: "Cookies de mesure d'audience" })).toHaveCount(0);
  await expectNoAxeViolations(page);

  await page.getByRole('link', { name: 'Écrire' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Nouveau message');
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expectNoAxeViolations(page);

  // Outside the trust space: refused, naming the address, nothing lost.
  await page.getByLabel('À', { exact: true }).fill(`${DEMO.nurse.address}, quelqu.un@gmail.com`);
  await page.getByLabel('Objet').fill('Suivi de M. Bernard');
  await page.getByLabel('Message', { exact: true }).fill('Bonjour,\nM. Bernard sort demain ; pouvez-vous passer jeudi ?');
  await page.getByRole('button', { name: 'Envoyer' }).click();
  const alert = page.locator('.error-summary');
  await expect(alert).toContainText("quelqu.un@gmail.com n'appartient pas à l'espace de confiance");
  await expect(alert).toBeFocused();
  await expect(page.getByLabel('Objet')).toHaveValue('Suivi de M. Bernard');

  await page.getByLabel('À', { exact: true }).fill(DEMO.nurse.address);

  // Attachments: the limit is said before anything is uploaded; one file by the picker, one by
  // drag-and-drop; a file over the limit is refused before upload, with the reason.
  await expect(page.getByText("Jusqu'à 25 Mo par message, texte et pièces jointes ensemble.")).toBeVisible();
  const picker = page.getByLabel('Joindre des fichiers');
  // The browser's own picker (in its language) is hidden behind the French button, yet still
  // reached with the keyboard.
  await expect(page.getByText('No file chosen')).toHaveCount(0);
  await picker.focus();
  await expect(picker).toBeFocused();
  await picker.setInputFiles({ name: 'ordonnance-bernard.pdf', mimeType: 'application/pdf', buffer: samplePdf(2) });
  await expect(page.locator('.attach-item').filter({ hasText: 'ordonnance-bernard.pdf' })).toContainText('prêt');
  await picker.setInputFiles({ name: 'scanner.dcm', mimeType: 'application/dicom', buffer: Buffer.alloc(26 * 1024 * 1024) });
  await expect(page.locator('.attach-refused')).toContainText("« scanner.dcm » (26 Mo) n'a pas été ajouté : le message dépasserait 25 Mo.");
  await expect(page.locator('.attach-item').filter({ hasText: 'scanner.dcm' })).toHaveCount(0);
  const dropped = await page.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(new File(['Hb 13,5 g/dL'], 'bilan-sanguin.txt', { type: 'text/plain' }));
    return d;
  });
  await page.locator('.dropzone').dispatchEvent('drop', { dataTransfer: dropped });
  await expect(page.locator('.attach-item').filter({ hasText: 'bilan-sanguin.txt' })).toContainText('prêt');
  await expectNoAxeViolations(page);

  await page.getByRole('button', { name: 'Envoyer' }).click();
  await expect(page).toHaveURL(/\/messagerie\/envoyes\?envoye=1$/, { timeout: 30_000 });
  await expect(page.getByText('Message envoyé.')).toBeVisible({ timeout: 30_000 });
  await expect(page.locator('.message-list li')).toContainText(['Suivi de M. Bernard']);

  // The nurse is told at her notification address, without sender, subject or content.
  const notice = await nextOutbox(0, (m) => m.includes('Category: mail.notice') && m.includes(`To: ${DEMO.nurse.email}\n`));
  expect(notice).toContain('Vous avez reçu un nouveau message');
  expect(notice).not.toContain('Bernard');
  expect(notice).not.toContain('Nadia');

  // The nurse, in another browser.
  const other = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'fr-FR' });
  const nurse = await other.newPage();
  const nurseProblems = watchConsole(nurse);
  await signInToMailbox(nurse, DEMO.nurse.address, DEMO.nurse.password, DEMO.nurse.email);
  const line = nurse.locator('.message-list li.unread').filter({ hasText: 'Suivi de M. Bernard' });
  await expect(line).toContainText('Nadia Benali');
  await expect(nurse.locator('.mail-folders')).toContainText('1 non lu(s)');
  await line.getByRole('link').click();
  await expect(nurse.getByRole('heading', { level: 1 })).toHaveText('Suivi de M. Bernard');
  await expect(nurse.locator('.mail-body')).toContainText('pouvez-vous passer jeudi ?');
  await expect(nurse.locator('.attachments li > a')).toHaveText(['ordonnance-bernard.pdf', 'bilan-sanguin.txt']);
  // The PDF is previewed as images drawn by the server: the browser never gets the PDF to show.
  await expect(nurse.getByRole('button', { name: 'Aperçu de bilan-sanguin.txt' })).toHaveCount(0);
  const pdfResponses: string[] = [];
  nurse.on('response', (r) => {
    if ((r.headers()['content-type'] || '').includes('pdf')) pdfResponses.push(r.url());
  });
  const opener = nurse.getByRole('button', { name: 'Aperçu de ordonnance-bernard.pdf' });
  await opener.click();
  const preview = nurse.getByRole('dialog', { name: 'Aperçu : ordonnance-bernard.pdf' });
  await expect(preview.getByRole('button', { name: 'Fermer' })).toBeFocused();
  const pages = preview.getByRole('img');
  await expect(pages).toHaveCount(2);
  await expect(pages.first()).toHaveAttribute('alt', 'Page 1 sur 2');
  await expect.poll(() => pages.first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
  await pages.last().scrollIntoViewIfNeeded();
  await expect.poll(() => pages.last().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
  await expectNoAxeViolations(nurse);
  // Tab goes round inside the dialog.
  await nurse.keyboard.press('Tab');
  await expect(preview.getByRole('link', { name: 'Télécharger' })).toBeFocused();
  await nurse.keyboard.press('Shift+Tab');
  await expect(preview.getByRole('button', { name: 'Fermer' })).toBeFocused();
  // The mailbox's shortcuts stay out of the dialog: r does not start a reply here.
  await nurse.keyboard.press('r');
  await expect(preview).toBeVisible();
  await expect(nurse.getByRole('heading', { level: 1 })).toHaveText('Suivi de M. Bernard');
  await nurse.keyboard.press('Escape');
  await expect(preview).toHaveCount(0);
  await expect(opener).toBeFocused();
  expect(pdfResponses).toEqual([]);
  const download = nurse.waitForEvent('download');
  await nurse.getByRole('link', { name: 'bilan-sanguin.txt' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('bilan-sanguin.txt');
  expect(fs.readFileSync(await file.path(), 'utf8')).toBe('Hb 13,5 g/dL');
  await expectNoAxeViolations(nurse);
  await nurse.getByRole('link', { name: 'Répondre', exact: true }).click();
  await expect(nurse.getByLabel('À', { exact: true })).toHaveValue(DEMO.social.address);
  await expect(nurse.getByLabel('Objet')).toHaveValue('RE: Suivi de M. Bernard');
  const body = nurse.getByLabel('Message', { exact: true });
  await expect(body).toHaveValue(/> M\. Bernard sort demain/);
  await body.press('Control+Home');
  await body.pressSequentially('Entendu, je passe jeudi matin.');
  await nurse.getByRole('button', { name: 'Envoyer' }).click();
  await expect(nurse.getByText('Message envoyé.')).toBeVisible({ timeout: 30_000 });
  expect(nurseProblems).toEqual([]);
  await other.close();

  // Back in the social worker's inbox.
  await page.getByRole('link', { name: /Boîte de réception/ }).click();
  const reply = page.locator('.message-list li').filter({ hasText: 'RE: Suivi de M. Bernard' });
  await expect(reply).toContainText('Louis Martin');
  await expect(reply.locator('.thread-count')).toContainText('2');
  await reply.getByRole('link').click();
  await expect(page.locator('.mail-body')).toContainText('Entendu, je passe jeudi matin.');
  // The reply sits in its conversation with the message it answers (from Sent).
  const conversation = page.getByRole('region', { name: 'Conversation (2 messages)' });
  await expect(conversation.locator('li')).toHaveCount(2);
  await expect(conversation.locator('li').first()).toContainText('Nadia Benali');
  await expect(conversation.locator('li').first()).toContainText('M. Bernard sort demain');
  await expect(conversation.locator('[aria-current="true"]')).toContainText('Louis Martin');
  await expectNoAxeViolations(page);

  // Delete it, find it in the Trash, restore it.
  await page.getByRole('button', { name: 'Supprimer', exact: true }).click();
  await expect(page).toHaveURL(/\/messagerie\/reception$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Boîte de réception');
  await expect(page.getByText('RE: Suivi de M. Bernard')).toHaveCount(0);
  await page.getByRole('link', { name: 'Corbeille' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Corbeille');
  await page.getByRole('checkbox', { name: 'Sélectionner : RE: Suivi de M. Bernard' }).check();
  await expectNoAxeViolations(page);
  await page.getByRole('button', { name: 'Restaurer' }).click();
  await expect(page.getByText('1 message(s) modifié(s).')).toBeVisible();
  await page.getByRole('link', { name: /Boîte de réception/ }).click();
  await expect(page.locator('.message-list')).toContainText('RE: Suivi de M. Bernard');

  // Search: a word of the body, then an operator.
  await page.getByRole('searchbox', { name: 'Rechercher dans vos messages' }).fill('jeudi');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Recherche');
  await expect(page.getByText('2 message(s) trouvé(s).')).toBeVisible();
  await expectNoAxeViolations(page);
  await page.getByRole('searchbox', { name: 'Rechercher dans vos messages' }).fill('jeudi de:louis');
  await page.keyboard.press('Enter');
  await expect(page.getByText('1 message(s) trouvé(s).')).toBeVisible();
  await expect(page.locator('.message-list')).toContainText('RE: Suivi de M. Bernard');
  expect(problems).toEqual([]);
});

test('drafts save themselves, keep their files, come back and leave when sent', async ({ page }) => {
  // Sending waits for the undo delay (10 s by default).
  test.slow();
  const problems = watchConsole(page);
  await signInToMailbox(page, DEMO.social.address, DEMO.social.password, DEMO.social.mobile);
  await page.getByRole('link', { name: 'Écrire' }).click();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await page.getByLabel('À', { exact: true }).fill('louis.mar');
  await page.getByLabel('Objet').fill('Compte rendu de visite');
  await page.getByLabel('Message', { exact: true }).fill('Visite du 12 : logement adapté.');
  await page.getByLabel('Joindre des fichiers').setInputFiles({ name: 'grille-autonomie.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 AGGIR') });
  await expect(page.locator('.attach-item').filter({ hasText: 'grille-autonomie.pdf' })).toContainText('prêt');
  // Saved on its own within a few seconds, unfinished address included.
  await expect(page.locator('.draft-status')).toHaveText('Brouillon enregistré.', { timeout: 12_000 });

  // More text, then straight to another page: saved on leaving.
  await page.getByLabel('Message', { exact: true }).fill('Visite du 12 : logement adapté. Aide à domicile à prévoir.');
  await page.getByRole('link', { name: 'Brouillons' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Brouillons');
  const draft = page.locator('.message-list li').filter({ hasText: 'Compte rendu de visite' });
  await expect(draft).toHaveCount(1);
  // The save on leaving may land just after the list was read: look again until it shows.
  await expect.poll(async () => {
    await page.reload();
    return draft.textContent();
  }, { timeout: 10_000 }).toContain('Aide à domicile');
  await draft.locator('a').click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Nouveau message');
  await expect(page.getByRole('button', { name: 'Envoyer' })).toBeEnabled();
  await expect(page.getByLabel('À', { exact: true })).toHaveValue('louis.mar');
  await expect(page.getByLabel('Message', { exact: true })).toHaveValue('Visite du 12 : logement adapté. Aide à domicile à prévoir.');
  await expect(page.locator('.attach-item').filter({ hasText: 'grille-autonomie.pdf' })).toContainText('prêt');

  await page.getByLabel('À', { exact: true }).fill(DEMO.nurse.address);
  await page.getByRole('button', { name: 'Envoyer' }).click();
  await expect(page.getByText('Message envoyé.')).toBeVisible({ timeout: 30_000 });
  const sent = page.locator('.message-list li').filter({ hasText: 'Compte rendu de visite' });
  await expect(sent.getByText('avec pièces jointes')).toHaveCount(1);
  await page.getByRole('link', { name: 'Brouillons' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Brouillons');
  await expect(page.locator('.message-list li').filter({ hasText: 'Compte rendu de visite' })).toHaveCount(0);

  // Deleted from another window while still being written: the text stays on screen, the person
  // is told, and it is saved again as a new draft.
  await page.getByRole('link', { name: 'Écrire' }).click();
  await expect(page.getByRole('button', { name: 'Envoyer' })).toBeEnabled();
  await page.getByLabel('Objet').fill('Synthèse de situation');
  await page.getByLabel('Message', { exact: true }).fill('Famille suivie depuis mars.');
  await page.getByRole('button', { name: 'Enregistrer le brouillon' }).click();
  await expect(page.locator('.draft-status')).toHaveText('Brouillon enregistré.');
  const other = await page.context().newPage();
  await gotoHydrated(other, '/messagerie/brouillons');
  await other.getByRole('checkbox', { name: 'Sélectionner : Synthèse de situation' }).check();
  await other.getByRole('button', { name: 'Supprimer', exact: true }).click();
  await expect(other.locator('.message-list li').filter({ hasText: 'Synthèse de situation' })).toHaveCount(0);
  // The next automatic save finds the draft gone; the one after makes a new draft.
  await page.getByLabel('Message', { exact: true }).fill('Famille suivie depuis mars. Visite prévue.');
  await expect(page.locator('.draft-status')).toContainText('envoyé ou supprimé depuis une autre fenêtre', { timeout: 12_000 });
  await expect(page.getByLabel('Message', { exact: true })).toHaveValue('Famille suivie depuis mars. Visite prévue.');
  await expect(page.locator('.draft-status')).toHaveText('Brouillon enregistré.', { timeout: 12_000 });
  await other.reload();
  await expect(other.locator('.message-list li').filter({ hasText: 'Synthèse de situation' })).toContainText('Visite prévue');
  await other.close();

  // Abandoned while its first save is still on the way: the save's draft goes too.
  // From a draft, "Écrire" starts a new message.
  await page.getByRole('link', { name: 'Brouillons' }).click();
  await page.locator('.message-list li').filter({ hasText: 'Synthèse de situation' }).locator('a').click();
  await expect(page.getByLabel('Objet')).toHaveValue('Synthèse de situation');
  await page.getByRole('link', { name: 'Écrire' }).click();
  await expect(page.getByLabel('Objet')).toHaveValue('');
  await expect(page.getByLabel('Message', { exact: true })).toHaveValue('');
  await expect(page.getByRole('button', { name: 'Envoyer' })).toBeEnabled();
  await page.route('**/api/mail-save-draft', async (route) => {
    await new Promise((r) => setTimeout(r, 1500));
    await route.continue();
  });
  await page.getByLabel('Objet').fill('Note abandonnée');
  await page.getByRole('button', { name: 'Enregistrer le brouillon' }).click();
  await expect(page.locator('.draft-status')).toHaveText('Enregistrement du brouillon…');
  await page.getByRole('button', { name: 'Abandonner' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Brouillons');
  await page.unroute('**/api/mail-save-draft');
  await page.waitForTimeout(1000);
  await page.reload();
  await expect(page.locator('.message-list li').filter({ hasText: 'Synthèse de situation' })).toHaveCount(1);
  await expect(page.locator('.message-list li').filter({ hasText: 'Note abandonnée' })).toHaveCount(0);
  expect(problems).toEqual([]);
});

test('own folders: create, nest, move by menu and by drag-and-drop, rename, delete', async ({ page }) => {
  const problems = watchConsole(page);
  await signInToMailbox(page, DEMO.nurse.address, DEMO.nurse.password, DEMO.nurse.email);
  const nav = page.getByRole('navigation', { name: 'Dossiers' });
  await nav.getByText('Nouveau dossier').click();
  await nav.getByLabel('Nom du dossier').fill('Patients');
  await nav.getByRole('button', { name: 'Créer le dossier' }).click();
  await expect(nav.getByRole('link', { name: 'Patients' })).toBeVisible();
  await nav.getByLabel('Nom du dossier').fill('M. Bernard');
  await nav.getByLabel('Placer dans').selectOption({ label: 'Patients' });
  await nav.getByRole('button', { name: 'Créer le dossier' }).click();
  await expect(nav.locator('.own-folders ul').getByRole('link', { name: 'M. Bernard' })).toBeVisible();
  await nav.getByLabel('Nom du dossier').fill('patients');
  await nav.getByRole('button', { name: 'Créer le dossier' }).click();
  await expect(nav.getByRole('alert')).toHaveText('Un dossier porte déjà ce nom à cet endroit.');
  await expectNoAxeViolations(page);

  // By the menu: select a message, move it to "M. Bernard".
  const first = page.locator('.message-list li').filter({ hasText: 'Suivi de M. Bernard' });
  await first.getByRole('checkbox').check();
  // Moving is a secondary action: in the selection's menu.
  await page.locator('summary', { hasText: "Plus d'actions" }).click();
  await page.getByLabel('Déplacer vers').selectOption({ label: 'M. Bernard' });
  await page.getByRole('button', { name: 'Déplacer', exact: true }).click();
  await expect(page.getByText('1 message(s) modifié(s).')).toBeVisible();
  await expect(page.locator('.message-list')).not.toContainText('Suivi de M. Bernard');
  // By drag-and-drop: another message onto "Patients".
  const other = page.locator('.message-list li').filter({ hasText: 'Compte rendu de visite' });
  const carried = await page.evaluateHandle(() => new DataTransfer());
  await other.dispatchEvent('dragstart', { dataTransfer: carried });
  await nav.getByRole('link', { name: 'Patients' }).dispatchEvent('dragover', { dataTransfer: carried });
  await nav.getByRole('link', { name: 'Patients' }).dispatchEvent('drop', { dataTransfer: carried });
  await expect(page.locator('.message-list li').filter({ hasText: 'Compte rendu de visite' })).toHaveCount(0);
  await expect(page.getByText('1 message(s) modifié(s).')).toBeVisible();

  await nav.getByRole('link', { name: 'M. Bernard' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('M. Bernard');
  await expect(page.locator('.message-list')).toContainText('Suivi de M. Bernard');
  await page.getByText('Renommer', { exact: true }).click();
  await page.getByLabel('Nom du dossier', { exact: true }).last().fill('M. et Mme Bernard');
  await page.getByRole('button', { name: 'Enregistrer le nom' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('M. et Mme Bernard');
  await expectNoAxeViolations(page);

  // Deleting "Patients" takes "M. et Mme Bernard" along; both messages go to the Trash.
  await nav.getByRole('link', { name: 'Patients' }).click();
  await expect(page.locator('.message-list')).toContainText('Compte rendu de visite');
  await page.getByRole('button', { name: 'Supprimer le dossier' }).click();
  await page.getByRole('button', { name: /^Confirmer : supprimer le dossier/ }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Corbeille');
  await expect(page.locator('.message-list')).toContainText('Compte rendu de visite');
  await expect(page.locator('.message-list')).toContainText('Suivi de M. Bernard');
  await expect(nav.getByRole('link', { name: 'Patients' })).toHaveCount(0);
  expect(problems).toEqual([]);
});

test('new mail shows without a reload; keyboard shortcuts, listed on ?', async ({ page }) => {
  const problems = watchConsole(page);
  await signInToMailbox(page, DEMO.nurse.address, DEMO.nurse.password, DEMO.nurse.email);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Boîte de réception');

  // A message arrives (imported by the operator's command) while the list is open.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hygie-live-'));
  const mbox = path.join(dir, 'arrivee.mbox');
  fs.writeFileSync(mbox, [
    'From labo@labo.mssante.fr Sun Nov 22 10:00:00 2026',
    'From: Laboratoire <labo@labo.mssante.fr>',
    `To: ${DEMO.nurse.address}`,
    'Subject: Résultats disponibles',
    `Date: ${new Date().toUTCString()}`,
    'Message-ID: <live-1@labo.mssante.fr>',
    '',
    'Les résultats de Mme Durand sont disponibles.',
    '',
  ].join('\n'));
  const bin = process.env.HYGIE_E2E_BIN;
  if (!bin) throw new Error('HYGIE_E2E_BIN is not set');
  execFileSync(bin, ['mail', 'import', '--account', DEMO.nurse.address, mbox], { encoding: 'utf8' });
  await expect(page.locator('.message-list li').filter({ hasText: 'Résultats disponibles' })).toBeVisible({ timeout: 25_000 });
  await expect(page.getByRole('status').filter({ hasText: 'Nouveau message reçu.' })).toHaveCount(1);

  // ? lists the shortcuts; Escape closes the list.
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Raccourcis clavier' });
  await expect(help).toBeVisible();
  await expect(help).toContainText('Répondre (message ouvert)');
  await expectNoAxeViolations(page);
  await page.keyboard.press('Escape');
  await expect(help).toHaveCount(0);
  // j goes down the list, x selects, e archives the selection.
  await page.keyboard.press('j');
  await expect(page.locator('.message-list li > a').first()).toBeFocused();
  await page.keyboard.press('x');
  await expect(page.locator('.message-list li input.select').first()).toBeChecked();
  await page.keyboard.press('e');
  await expect(page.getByText('1 message(s) modifié(s).')).toBeVisible();
  // Typing in a field is never taken for a shortcut.
  await page.getByRole('searchbox', { name: 'Rechercher dans vos messages' }).fill('cej');
  await expect(page).toHaveURL(/\/messagerie$/);
  await page.getByRole('searchbox', { name: 'Rechercher dans vos messages' }).blur();
  // In a message (the one just archived): r answers it.
  await page.getByRole('link', { name: 'Archives' }).click();
  await page.locator('.message-list li > a').filter({ hasText: 'Résultats disponibles' }).click();
  await expect(page.locator('article.message')).toBeVisible();
  await page.keyboard.press('r');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Nouveau message');
  await expect(page.getByLabel('Objet')).toHaveValue(/^RE: /);
  await page.getByRole('button', { name: 'Abandonner' }).click();
  expect(problems).toEqual([]);
});

test('a conversation is one line in the list; it can be unfolded', async ({ page }) => {
  const problems = watchConsole(page);
  await signInToMailbox(page, DEMO.nurse.address, DEMO.nurse.password, DEMO.nurse.email);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hygie-thread-'));
  const mbox = path.join(dir, 'conversation.mbox');
  const message = (n: number, subject: string, refs: string) => [
    `From ehpad@ehpad.mssante.fr Sun Nov 22 1${n}:00:00 2026`,
    'From: EHPAD Les Tilleuls <ehpad@ehpad.mssante.fr>',
    `To: ${DEMO.nurse.address}`,
    `Subject: ${subject}`,
    `Date: Sun, 22 Nov 2026 1${n}:00:00 +0000`,
    `Message-ID: <passage-${n}@ehpad.mssante.fr>`,
    ...(refs ? [`In-Reply-To: ${refs.split(' ').pop()}`, `References: ${refs}`] : []),
    '',
    `Message ${n} au sujet du passage.`,
    '',
  ].join('\n');
  fs.writeFileSync(mbox, [
    message(1, 'Avis de passage', ''),
    message(2, 'RE: Avis de passage', '<passage-1@ehpad.mssante.fr>'),
    message(3, 'RE: Avis de passage', '<passage-1@ehpad.mssante.fr> <passage-2@ehpad.mssante.fr>'),
  ].join('\n'));
  const bin = process.env.HYGIE_E2E_BIN;
  if (!bin) throw new Error('HYGIE_E2E_BIN is not set');
  execFileSync(bin, ['mail', 'import', '--account', DEMO.nurse.address, mbox], { encoding: 'utf8' });
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);

  // The list's display choices are in its menu (density, folding).
  const toggle = page.getByRole('button', { name: 'Regrouper les conversations' });
  const openViewMenu = async () => {
    if ((await page.locator('.view-menu').getAttribute('open')) === null) await page.locator('.view-menu summary').click();
  };
  await openViewMenu();
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  const lines = page.locator('.message-list li').filter({ hasText: 'Avis de passage' });
  await expect(lines).toHaveCount(1);
  await expect(lines.locator('.thread-count')).toContainText('3');
  await expect(lines).toHaveClass(/unread/);
  await expectNoAxeViolations(page);

  // Unfolded: each message has its line; folded again.
  await toggle.click();
  await expect(lines).toHaveCount(3);
  await openViewMenu();
  await expect(toggle).toHaveAttribute('aria-pressed', 'false');
  await toggle.click();
  await expect(lines).toHaveCount(1);

  // Selecting the line selects the conversation: archived together.
  await page.getByRole('checkbox', { name: 'Sélectionner la conversation : RE: Avis de passage (3 messages)' }).check();
  await page.getByRole('button', { name: 'Archiver' }).click();
  await expect(page.getByText('3 message(s) modifié(s).')).toBeVisible();
  await expect(lines).toHaveCount(0);
  // Opening the line opens its oldest unread message; the reader lists the conversation.
  await page.getByRole('link', { name: 'Archives' }).click();
  await page.locator('.message-list li > a').filter({ hasText: 'Avis de passage' }).click();
  await expect(page.locator('.mail-body')).toContainText('Message 1 au sujet du passage.');
  await expect(page.getByRole('region', { name: 'Conversation (3 messages)' }).locator('li')).toHaveCount(3);
  expect(problems).toEqual([]);
});

test.describe('on a 375 px phone', () => {
  test.use({ viewport: { width: 375, height: 740 } });

  test('the mailbox and the composer fit and pass axe', async ({ page }) => {
    await signInToMailbox(page, DEMO.social.address, DEMO.social.password, DEMO.social.mobile);
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await expectNoAxeViolations(page);
    await page.getByRole('link', { name: 'Écrire' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Nouveau message');
    expect(await overflow()).toBeLessThanOrEqual(0);
    await expectNoAxeViolations(page);
  });
});
