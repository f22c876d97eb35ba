import { test, expect } from '@playwright/test';
import * as http from 'http';
import * as https from 'https';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { signInToMailbox, DEMO } from './helpers';

// A hostile HTML mail, imported into the nurse's mailbox, opens without running anything and
// without fetching anything: a local server counts every request its traps would make.
test('a hostile HTML mail runs nothing and fetches nothing', async ({ page }) => {
  const hits: string[] = [];
  const trap = http.createServer((req, res) => { hits.push(req.url || ''); res.end('x'); });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', () => r()));
  const port = (trap.address() as { port: number }).port;
  const t = `http://127.0.0.1:${port}`;
  const html = [
    '<p>Bonjour, voici le bilan.</p>',
    `<script>fetch('${t}/script')</script>`,
    `<img src="${t}/pixel.gif" onerror="fetch('${t}/onerror')">`,
    `<img srcset="${t}/srcset.png 2x">`,
    `<div style="background:url(${t}/css-url)">a</div>`,
    `<style>@import url(${t}/import.css); p { background: url(${t}/style-url) }</style>`,
    `<table background="${t}/background.gif"><tr><td>b</td></tr></table>`,
    `<svg><image href="${t}/svg-image"/><animate attributeName="href" values="javascript:fetch('${t}/animate')"/></svg>`,
    `<link rel="stylesheet" href="${t}/link.css"><video poster="${t}/poster.png"></video>`,
    `<iframe src="${t}/iframe"></iframe><object data="${t}/object"></object>`,
    `<a href="javascript:fetch('${t}/js-link')">lien</a>`,
    `<base href="${t}/base/"><meta http-equiv="refresh" content="0;url=${t}/refresh">`,
    `<form action="${t}/form"><input name="mdp"><button>OK</button></form>`,
  ].join('\n');
  const mbox = path.join(os.tmpdir(), `hostile-${Date.now()}.mbox`);
  fs.writeFileSync(mbox, [
    'From pirate@labo.mssante.fr Mon Nov  2 10:00:00 2026',
    'From: Pirate <pirate@labo.mssante.fr>',
    `To: ${DEMO.nurse.address}`,
    'Subject: Bilan piégé',
    'Date: Mon, 02 Nov 2026 10:00:00 +0100',
    'Message-ID: <hostile@labo.mssante.fr>',
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    html,
    '',
  ].join('\n'));
  const bin = process.env.HYGIE_E2E_BIN;
  if (!bin) throw new Error('HYGIE_E2E_BIN is not set');
  execFileSync(bin, ['mail', 'import', '--account', DEMO.nurse.address, mbox], { stdio: 'pipe' });

  const dialogs: string[] = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  await signInToMailbox(page, DEMO.nurse.address, DEMO.nurse.password, DEMO.nurse.email);
  await page.locator('.message-list li').filter({ hasText: 'Bilan piégé' }).getByRole('link').click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Bilan piégé');
  const frame = page.frameLocator('iframe.mail-html');
  await expect(frame.getByText('Bonjour, voici le bilan.')).toBeVisible();
  await expect(frame.locator('script, svg, style, form, iframe, object, link, base, meta, img[src], img[srcset], [style], [background]')).toHaveCount(0);
  await page.waitForTimeout(1500);
  expect(hits).toEqual([]);
  expect(dialogs).toEqual([]);
  trap.close();
  fs.rmSync(mbox);
});

// Remote images wait for the holder's choice; once she chooses to see this sender's images,
// they load (and only the images: nothing else of the hostile list).
test('remote images show only after "show images from this sender"', async ({ page }) => {
  const dataDir = process.env.HYGIE_DATA_DIR;
  if (!dataDir) throw new Error('HYGIE_DATA_DIR is not set');
  const hits: string[] = [];
  const trap = https.createServer(
    { cert: fs.readFileSync(path.join(dataDir, 'tls', 'dev-cert.pem')), key: fs.readFileSync(path.join(dataDir, 'tls', 'dev-key.pem')) },
    (req, res) => { hits.push(req.url || ''); res.setHeader('Content-Type', 'image/gif'); res.end(Buffer.from('R0lGODlhAQABAAAAACw=', 'base64')); },
  );
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', () => r()));
  const t = `https://127.0.0.1:${(trap.address() as { port: number }).port}`;
  const mbox = path.join(os.tmpdir(), `images-${Date.now()}.mbox`);
  fs.writeFileSync(mbox, [
    'From lettre@labo.mssante.fr Mon Nov  2 11:00:00 2026',
    'From: Lettre du labo <lettre@labo.mssante.fr>',
    `To: ${DEMO.nurse.address}`,
    'Subject: Lettre illustrée',
    'Date: Mon, 02 Nov 2026 11:00:00 +0100',
    'Message-ID: <images@labo.mssante.fr>',
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    `<p>Nouveautés du laboratoire.</p><img src="${t}/photo.gif" alt="photo"><div style="background:url(${t}/css)">x</div>`,
    '',
  ].join('\n'));
  execFileSync(process.env.HYGIE_E2E_BIN || '', ['mail', 'import', '--account', DEMO.nurse.address, mbox], { stdio: 'pipe' });
  await signInToMailbox(page, DEMO.nurse.address, DEMO.nurse.password, DEMO.nurse.email);
  await page.locator('.message-list li').filter({ hasText: 'Lettre illustrée' }).getByRole('link').click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Lettre illustrée');
  await expect(page.frameLocator('iframe.mail-html').getByText('Nouveautés du laboratoire.')).toBeVisible();
  await page.waitForTimeout(1000);
  expect(hits).toEqual([]);
  await page.getByRole('button', { name: 'Toujours afficher les images de lettre@labo.mssante.fr' }).click();
  await expect(page.getByRole('button', { name: /Toujours afficher les images/ })).toHaveCount(0);
  // The refetched message carries the remote address again (the server's part), so a missing
  // request below is the browser's part.
  await expect(page.locator('iframe.mail-html')).toHaveAttribute('srcdoc', new RegExp(`${t}/photo\\.gif`));
  await expect.poll(() => hits, { timeout: 10_000 }).toEqual(['/photo.gif']);
  await page.waitForTimeout(500);
  expect(hits).toEqual(['/photo.gif']);
  trap.close();
  fs.rmSync(mbox);
});
