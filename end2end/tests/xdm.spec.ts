import { test, expect, Page } from '@playwright/test';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { expectNoAxeViolations, watchConsole, signInToMailbox, samplePdf, waitForOutbox, DEMO } from './helpers';

// A health-document message as another MSSanté client sends it (subject `XDM/1.0/DDM+…`,
// `X-MSS-*` headers, the PDF beside `IHE_XDM.zip`), brought into the nurse's mailbox by the
// operator's import, then read: the subject without its prefix and marked, the patient, the
// package's documents (downloadable, previewed as images).

const INS = '261037512345603'; // fictitious, with a matching key, under the INS-NIR OID
const INS_OID = '1.2.250.1.213.1.4.8';
const SUBJECT = "CR d'imagerie DUPONT Jeanne 12/03/1961";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const b of buf) crc = CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A zip of `entries`, stored (not compressed). */
function zip(entries: [string, Buffer][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const n = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, n, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A CDA R2 of level 1 embedding `pdf`. */
function cda(pdf: Buffer): Buffer {
  return Buffer.from(
    '<?xml version="1.0" encoding="UTF-8"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3">' +
      '<code code="18748-4" codeSystem="2.16.840.1.113883.6.1" displayName="CR d\'imagerie médicale"/>' +
      "<title>Compte rendu d'imagerie</title><component><nonXMLBody>" +
      `<text mediaType="application/pdf" representation="B64">${pdf.toString('base64')}</text>` +
      '</nonXMLBody></component></ClinicalDocument>\n',
    'utf8',
  );
}

function slot(name: string, ...values: string[]): string {
  return `<rim:Slot name="${name}"><rim:ValueList>${values.map((v) => `<rim:Value>${v}</rim:Value>`).join('')}</rim:ValueList></rim:Slot>`;
}

/** METADATA.XML for one document: `DOC0001.XML`, with its size and SHA-1. */
function metadata(doc: Buffer): Buffer {
  const sha1 = crypto.createHash('sha1').update(doc).digest('hex');
  const pid = `${INS}^^^&amp;${INS_OID}&amp;ISO^NH`;
  return Buffer.from(
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">' +
      '<rim:RegistryObjectList>' +
      '<rim:ExtrinsicObject id="Document01" mimeType="text/xml" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">' +
      slot('creationTime', '20261005101500') +
      slot('hash', sha1) +
      slot('size', String(doc.length)) +
      slot('URI', 'DOC0001.XML') +
      slot('sourcePatientId', pid) +
      slot('sourcePatientInfo', `PID-3|${pid}`, 'PID-5|DUPONT^Jeanne^^^^^L', 'PID-7|19610312', 'PID-8|F') +
      `<rim:Name><rim:LocalizedString value="Compte rendu d'imagerie"/></rim:Name>` +
      '<rim:Classification classificationScheme="urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d" classifiedObject="Document01" nodeRepresentation="" id="cl01">' +
      slot('authorPerson', '801234567890^MARTIN^Paul^^^Dr^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^RPPS') +
      slot('authorInstitution', "Centre d'imagerie du Parc^^^^^&amp;1.2.250.1.71.4.2.2&amp;ISO^IDNST^^^312345678901") +
      '</rim:Classification>' +
      '<rim:Classification classificationScheme="urn:uuid:f0306f51-975f-434e-a61c-c59651d33983" classifiedObject="Document01" nodeRepresentation="18748-4" id="cl02">' +
      slot('codingScheme', '2.16.840.1.113883.6.1') +
      `<rim:Name><rim:LocalizedString value="CR d'imagerie médicale"/></rim:Name>` +
      '</rim:Classification>' +
      `<rim:ExternalIdentifier identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" value="${pid}" id="ei01" registryObject="Document01"/>` +
      '</rim:ExtrinsicObject><rim:RegistryPackage id="SubmissionSet01"/>' +
      '</rim:RegistryObjectList></lcm:SubmitObjectsRequest>\n',
    'utf8',
  );
}

function base64Lines(b: Buffer): string {
  return (b.toString('base64').match(/.{1,76}/g) || []).join('\n');
}

/** Imports the health-document message into `account`'s Inbox; returns the document's bytes. */
function importXdmMessage(account: string): Buffer {
  const pdf = samplePdf(1);
  const doc = cda(pdf);
  const pkg = zip([
    ['INDEX.HTM', Buffer.from('<html><body>Index</body></html>')],
    ['README.TXT', Buffer.from('Paquet IHE XDM')],
    ['IHE_XDM/SUBSET01/METADATA.XML', metadata(doc)],
    ['IHE_XDM/SUBSET01/DOC0001.XML', doc],
  ]);
  const id = `xdm-${Date.now()}@radio.mssante.fr`;
  const message = [
    'From dr.martin@radio.mssante.fr Mon Oct  5 10:20:00 2026',
    'From: Dr Paul Martin <dr.martin@radio.mssante.fr>',
    `To: ${account}`,
    `Subject: XDM/1.0/DDM+${SUBJECT}`,
    `Message-ID: <${id}>`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    'X-MSS-CODECDA: 18748-4',
    'X-MSS-INS: O',
    'X-MSS-NIL: LOGICIEL-RADIO-12',
    'Content-Type: multipart/mixed; boundary="xdm"',
    '',
    '--xdm',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Veuillez trouver le compte rendu de Mme Dupont.',
    '--xdm',
    'Content-Type: application/pdf; name="20261005_CR_DUPONT_Jeanne_123.pdf"',
    'Content-Disposition: attachment; filename="20261005_CR_DUPONT_Jeanne_123.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(pdf),
    '--xdm',
    'Content-Type: application/zip; name="IHE_XDM.zip"',
    'Content-Disposition: attachment; filename="IHE_XDM.zip"',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(pkg),
    '--xdm--',
    '',
  ].join('\n');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hygie-xdm-'));
  const mbox = path.join(dir, 'xdm.mbox');
  fs.writeFileSync(mbox, message);
  const bin = process.env.HYGIE_E2E_BIN;
  if (!bin) throw new Error('HYGIE_E2E_BIN is not set');
  execFileSync(bin, ['mail', 'import', '--account', account, mbox], { encoding: 'utf8' });
  return doc;
}

/** Opens the health-document message from the Inbox. */
async function openXdmMessage(page: Page) {
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  const line = page.locator('.message-list li').filter({ hasText: SUBJECT }).first();
  await expect(line).toContainText('Document de santé');
  await expect(line).not.toContainText('XDM/1.0/DDM+');
  await line.getByRole('link').click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText(SUBJECT);
}

test.describe.configure({ mode: 'serial' });

test('an XDM message shows its documents and patient', async ({ page }) => {
  const problems = watchConsole(page);
  await signInToMailbox(page, DEMO.nurse.address, DEMO.nurse.password, DEMO.nurse.email);
  const doc = importXdmMessage(DEMO.nurse.address);
  await openXdmMessage(page);

  // The subject without its prefix, marked as a health document.
  const heading = page.getByRole('heading', { level: 1 });
  await expect(heading).toHaveText(`Document de santé ${SUBJECT}`);
  await expect(heading).not.toContainText('XDM/1.0/DDM+');

  // The patient, with the INS and what the sender says of it.
  const patient = page.getByRole('region', { name: 'Patient' });
  await expect(patient).toContainText('DUPONT Jeanne');
  await expect(patient).toContainText('12 mars 1961');
  await expect(patient).toContainText('Féminin');
  await expect(patient).toContainText(INS);
  await expect(patient).toContainText("identité qualifiée selon l'expéditeur");

  // The package's document: type, author, patient, date, integrity.
  const documents = page.getByRole('region', { name: 'Documents de santé (1)' });
  const item = documents.getByRole('listitem');
  await expect(item).toHaveCount(1);
  await expect(item.getByRole('heading', { level: 3 })).toHaveText("Compte rendu d'imagerie");
  await expect(item).toContainText("CR d'imagerie médicale");
  await expect(item).toContainText("Dr Paul MARTIN, Centre d'imagerie du Parc");
  await expect(item).toContainText('DUPONT Jeanne');
  await expect(item).toContainText('5 octobre 2026 à 10:15 UTC');
  await expect(item).toContainText('Intégrité vérifiée.');
  // The package and the PDF beside it are attachments as usual.
  await expect(page.locator('.attachments li > a')).toHaveText(['20261005_CR_DUPONT_Jeanne_123.pdf', 'IHE_XDM.zip']);
  await expectNoAxeViolations(page);

  // The document downloads as a file, never shown in the page.
  const link = item.getByRole('link', { name: 'Télécharger le document (DOC0001.XML)' });
  await link.focus();
  await expect(link).toBeFocused();
  const download = page.waitForEvent('download');
  await page.keyboard.press('Enter');
  const file = await download;
  expect(file.suggestedFilename()).toBe('DOC0001.XML');
  expect(fs.readFileSync(await file.path())).toEqual(doc);

  // The PDF the CDA embeds is previewed as images, with the keyboard.
  const opener = item.getByRole('button', { name: "Aperçu de Compte rendu d'imagerie" });
  await opener.focus();
  await page.keyboard.press('Enter');
  const preview = page.getByRole('dialog', { name: "Aperçu : Compte rendu d'imagerie" });
  await expect(preview.getByRole('button', { name: 'Fermer' })).toBeFocused();
  const pages = preview.getByRole('img');
  await expect(pages).toHaveCount(1);
  await expect(pages.first()).toHaveAttribute('alt', 'Page 1 sur 1');
  await expect.poll(() => pages.first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
  await expectNoAxeViolations(page);
  await page.keyboard.press('Escape');
  await expect(preview).toHaveCount(0);
  await expect(opener).toBeFocused();
  expect(problems).toEqual([]);
});

test('to a patient, the author may say the patient cannot reply (X-MSS-MES: FIN)', async ({ page }) => {
  // Sending waits for the undo delay (10 s by default).
  test.slow();
  const bin = process.env.HYGIE_E2E_BIN;
  if (!bin) throw new Error('HYGIE_E2E_BIN must be set');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hygie-trust-'));
  const list = path.join(dir, 'liste-blanche.xml');
  fs.writeFileSync(
    list,
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListeBlanche xmlns="https://listeblanche.mssante.fr/schema">\n' +
      '  <Operateur><Domaine><Nom>labo.mssante.fr</Nom></Domaine></Operateur>\n' +
      '  <Operateur><Domaine><Nom>patient.mssante.fr</Nom></Domaine></Operateur>\n</ListeBlanche>\n',
  );
  execFileSync(bin, ['trust-space', 'import', list], { encoding: 'utf8' });

  const problems = watchConsole(page);
  await signInToMailbox(page, DEMO.nurse.address, DEMO.nurse.password, DEMO.nurse.email);
  await page.getByRole('link', { name: 'Écrire' }).click();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  const noReply = page.getByLabel('Le patient ne peut pas répondre');
  const to = page.getByLabel('À', { exact: true });
  await to.fill('dr.martin@labo.mssante.fr');
  await expect(noReply).toHaveCount(0);
  // A patient's address (Mon Espace Santé): the choice appears, explained.
  await to.fill(`${INS}@patient.mssante.fr`);
  await expect(noReply).toBeVisible();
  await expect(noReply).not.toBeChecked();
  await expect(noReply).toHaveAccessibleDescription('Le message arrive dans Mon Espace Santé sans possibilité de réponse.');
  await noReply.check();
  const subject = `Resultats ${Date.now()}`;
  await page.getByLabel('Objet').fill(subject);
  await page.getByLabel('Message', { exact: true }).fill('Vos résultats sont normaux.');
  await expectNoAxeViolations(page);
  await page.getByRole('button', { name: 'Envoyer' }).click();
  await expect(page).toHaveURL(/\/messagerie\/envoyes\?envoye=1$/, { timeout: 30_000 });
  const sent = await waitForOutbox((t) => t.includes(`Subject: ${subject}`) && t.includes('patient.mssante.fr'));
  expect(sent).toContain('X-MSS-MES: FIN');
  expect(problems).toEqual([]);
});

test.describe('on a 375 px phone', () => {
  test.use({ viewport: { width: 375, height: 740 } });

  test('an XDM message fits and passes axe', async ({ page }) => {
    await signInToMailbox(page, DEMO.nurse.address, DEMO.nurse.password, DEMO.nurse.email);
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await expectNoAxeViolations(page);
    importXdmMessage(DEMO.nurse.address);
    await openXdmMessage(page);
    await expect(page.getByRole('region', { name: 'Patient' })).toContainText(INS);
    await expect(page.getByRole('region', { name: 'Documents de santé (1)' })).toBeVisible();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await expectNoAxeViolations(page);
  });
});
