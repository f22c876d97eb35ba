import { expect, Page, ConsoleMessage } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import * as fs from 'fs';
import * as path from 'path';

export const PAGES = [
  { path: '/', fr: 'Hygie, la messagerie sécurisée des professionnels de santé', en: 'Hygie, secure messaging for health professionals' },
  { path: '/faq', fr: 'Questions fréquentes', en: 'Frequently asked questions' },
  { path: '/configurations', fr: 'Configurations supportées', en: 'Supported configurations' },
  { path: '/cgu', fr: "Conditions générales d'utilisation du service Hygie", en: "Conditions générales d'utilisation du service Hygie" },
  { path: '/cgu/1.0', fr: "Conditions générales d'utilisation du service Hygie", en: "Conditions générales d'utilisation du service Hygie" },
  { path: '/cookies', fr: 'Cookies', en: 'Cookies' },
  { path: '/mentions-legales', fr: 'Mentions légales', en: 'Legal notice' },
  { path: '/assistance', fr: 'Assistance', en: 'Support' },
];

/** Collects console errors and CSP violations; a clean page has none. */
export function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    // A refused request (4xx: wrong password, wrong code) is an expected answer, shown to the
    // person; the browser still logs it. Server errors (5xx) are problems.
    if (/the server responded with a status of 4\d\d/.test(m.text())) return;
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return problems;
}

/** Opens a page and waits until the WebAssembly front end has hydrated it. */
export async function gotoHydrated(page: Page, url: string) {
  const res = await page.goto(url);
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  return res;
}

export async function expectNoAxeViolations(page: Page) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const summary = results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  expect(summary, summary.join('\n')).toEqual([]);
}

/** The development outbox's files (HYGIE_E2E_OUTBOX), newest last. */
export function outboxFiles(): string[] {
  const dir = process.env.HYGIE_E2E_OUTBOX;
  if (!dir) throw new Error('HYGIE_E2E_OUTBOX is not set');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort().map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
}

export async function waitForOutbox(predicate: (text: string) => boolean): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const hit = outboxFiles().find(predicate);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('expected message not found in the development outbox');
}

/** How many messages the development outbox holds now: pass it to `nextOutbox`. */
export function outboxCount(): number {
  return outboxFiles().length;
}

/** Waits for a message that arrived after `before` messages and matches `predicate`. */
export async function nextOutbox(before: number, predicate: (text: string) => boolean): Promise<string> {
  for (let i = 0; i < 150; i++) {
    const hit = outboxFiles().slice(before).find(predicate);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('expected message not found in the development outbox');
}

/** The 6-digit code of a message from the outbox. */
export function codeOf(message: string): string {
  const body = message.split('\n\n').slice(1).join('\n\n');
  const m = body.match(/(?<!\d)\d{6}(?!\d)/);
  if (!m) throw new Error('no code in the message');
  return m[0];
}

/** The demonstration accounts seeded by `demo_accounts = true` (see README). */
export const DEMO = {
  doctor: { address: 'camille.durand@hygie.localhost', password: 'rendez-vous du mardi', mobile: '+33612345678' },
  nurse: { address: 'louis.martin@hygie.localhost', password: 'tournée du matin 2026', email: 'louis.martin@exemple.fr' },
  social: { address: 'nadia.benali@hygie.localhost', password: 'permanence du jeudi', mobile: '+33698765432' },
};

/** Address and password, then the code read from the outbox (SMS to `to`, or email). */
export async function signIn(page: Page, address: string, password: string, to: string) {
  await gotoHydrated(page, '/connexion');
  const before = outboxCount();
  await page.getByLabel('Adresse de messagerie sécurisée').fill(address);
  await page.getByLabel('Mot de passe', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Continuer' }).click();
  await expect(page.getByRole('heading', { name: 'Saisissez le code reçu' })).toBeVisible();
  const message = await nextOutbox(before, (m) => m.includes(`To: ${to}\n`) && m.includes('Category: auth.code'));
  await page.getByLabel('Code à 6 chiffres').fill(codeOf(message));
  await page.getByRole('button', { name: 'Se connecter' }).click();
}

/** Signs in and accepts the terms when they are asked for; ends in the mailbox. */
export async function signInToMailbox(page: Page, address: string, password: string, to: string) {
  await signIn(page, address, password, to);
  await expect(page).toHaveURL(/\/(messagerie|compte\/cgu)$/);
  if (page.url().endsWith('/compte/cgu')) {
    await page.getByRole('button', { name: "J'accepte les conditions d'utilisation" }).click();
  }
  await expect(page).toHaveURL(/\/messagerie$/);
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

/** A small, valid PDF: `pages` A4 pages, each with a black band and "Page N" in Helvetica. */
export function samplePdf(pages: number): Buffer {
  const objects: string[] = [];
  const kids = Array.from({ length: pages }, (_, i) => `${4 + 2 * i} 0 R`);
  objects.push('<< /Type /Catalog /Pages 2 0 R >>');
  objects.push(`<< /Type /Pages /Kids [${kids.join(' ')}] /Count ${pages} >>`);
  objects.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  for (let i = 0; i < pages; i++) {
    const content = `0 0 0 rg 50 700 495 80 re f BT /F1 36 Tf 50 600 Td (Page ${i + 1}) Tj ET`;
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + 2 * i} 0 R >>`);
    objects.push(`<< /Length ${content.length} >>\nstream\n${content}\nendstream`);
  }
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, n) => {
    offsets.push(out.length);
    out += `${n + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
