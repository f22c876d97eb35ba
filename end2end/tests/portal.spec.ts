import { test, expect } from '@playwright/test';
import { PAGES, gotoHydrated, expectNoAxeViolations, watchConsole, waitForOutbox } from './helpers';

test.describe('portal pages', () => {
  for (const { path, fr } of PAGES) {
    test(`${path} in French, clean console, 0 axe violations`, async ({ page }) => {
      const problems = watchConsole(page);
      const res = await gotoHydrated(page, path);
      expect(res!.status()).toBe(200);
      await expect(page.locator('html')).toHaveAttribute('lang', 'fr');
      await expect(page.getByRole('heading', { level: 1 })).toHaveText(fr);
      await expectNoAxeViolations(page);
      expect(problems, problems.join('\n')).toEqual([]);
    });
  }

  test.describe('in English', () => {
    test.use({ locale: 'en-GB' });
    for (const { path, en } of PAGES) {
      test(`${path} in English, 0 axe violations`, async ({ page }) => {
        await gotoHydrated(page, path);
        await expect(page.locator('html')).toHaveAttribute('lang', 'en');
        await expect(page.getByRole('heading', { level: 1 })).toHaveText(en);
        await expectNoAxeViolations(page);
      });
    }
  });

  test.describe('on a 375 px phone', () => {
    test.use({ viewport: { width: 375, height: 740 } });
    for (const { path } of PAGES) {
      test(`${path} fits and passes axe`, async ({ page }) => {
        await gotoHydrated(page, path);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow).toBeLessThanOrEqual(0);
        await expectNoAxeViolations(page);
      });
    }
  });

  test('security headers are on the page', async ({ page }) => {
    const res = await page.goto('/');
    const h = res!.headers();
    expect(h['strict-transport-security']).toContain('max-age=');
    expect(h['x-content-type-options']).toBe('nosniff');
    expect(h['referrer-policy']).toBe('no-referrer');
    expect(h['permissions-policy']).toContain('camera=()');
    const csp = h['content-security-policy'];
    for (const part of ["default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "'wasm-unsafe-eval'"]) {
      expect(csp).toContain(part);
    }
    const nonce = /'nonce-([^']+)'/.exec(csp)![1];
    const scriptNonces = await page.locator('script').evaluateAll((els) => els.map((e) => (e as HTMLScriptElement).nonce));
    expect(scriptNonces.length).toBeGreaterThan(0);
    for (const n of scriptNonces) expect(n).toBe(nonce);
  });

  test('the language can be switched and is remembered', async ({ page }) => {
    await gotoHydrated(page, '/faq');
    await page.getByRole('link', { name: 'Read this page in English' }).click();
    await expect(page).toHaveURL(/\/faq$/);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Frequently asked questions');
    await gotoHydrated(page, '/');
    await expect(page.locator('html')).toHaveAttribute('lang', 'en');
    await page.getByRole('link', { name: 'Lire cette page en français' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hygie, la messagerie sécurisée des professionnels de santé');
  });

  test('keyboard: the skip link leads to the content and the navigation works', async ({ page }) => {
    await gotoHydrated(page, '/');
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Aller au contenu' });
    await expect(skip).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page).toHaveURL(/#contenu$/);
    const nav = page.getByRole('navigation', { name: 'Navigation principale' });
    await nav.getByRole('link', { name: 'FAQ' }).focus();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Questions fréquentes');
    await expect(nav.getByRole('link', { name: 'FAQ' })).toHaveAttribute('aria-current', 'page');
  });

  test('earlier terms are listed and readable', async ({ page }) => {
    await gotoHydrated(page, '/cgu');
    await expect(page.getByText('Version 1.1, en vigueur depuis le 5 octobre 2026.')).toBeVisible();
    await page.getByRole('link', { name: 'Version 1.0 du 2 mars 2026' }).click();
    await expect(page.getByText('Vous consultez une version antérieure. La version en vigueur est la version 1.1.')).toBeVisible();
    await expect(page.getByText('Version 1.0, en vigueur depuis le 2 mars 2026.')).toBeVisible();
  });
});

test.describe('cookie consent', () => {
  test('is asked, remembered, and can be withdrawn', async ({ page, context }) => {
    await gotoHydrated(page, '/faq');
    const banner = page.getByRole('region', { name: "Cookies de mesure d'audience" });
    await expect(banner).toBeVisible();
    expect((await context.cookies()).map((c) => c.name)).not.toContain('hygie_audience');

    await banner.getByRole('button', { name: "Accepter la mesure d'audience" }).click();
    await expect(page).toHaveURL(/\/faq$/);
    await expect(banner).toHaveCount(0);
    let names = (await context.cookies()).map((c) => c.name);
    expect(names).toContain('hygie_consent');
    expect(names).toContain('hygie_audience');

    await gotoHydrated(page, '/');
    await expect(page.getByRole('region', { name: "Cookies de mesure d'audience" })).toHaveCount(0);

    await gotoHydrated(page, '/cookies');
    await expect(page.getByText("Vous avez accepté la mesure d'audience.")).toBeVisible();
    await page.getByRole('button', { name: 'Retirer mon consentement' }).click();
    await expect(page.getByText("Vous avez refusé la mesure d'audience.")).toBeVisible();
    names = (await context.cookies()).map((c) => c.name);
    expect(names).not.toContain('hygie_audience');
    const consent = (await context.cookies()).find((c) => c.name === 'hygie_consent');
    expect(consent!.value).toBe('refused');
    expect(consent!.secure).toBe(true);
    expect(consent!.httpOnly).toBe(true);
  });
});

test.describe('contact form with JavaScript', () => {
  test('shows every error inline, keeps the input, then sends', async ({ page }) => {
    const problems = watchConsole(page);
    await gotoHydrated(page, '/assistance');
    await page.getByLabel('Nom et prénom').fill('Dr Jeanne Moreau');
    await page.getByLabel('Adresse électronique pour vous répondre').fill('jeanne.moreau@');
    await page.getByRole('button', { name: 'Envoyer la demande' }).click();

    const summary = page.getByRole('alert').filter({ hasText: 'La demande n' });
    await expect(summary).toBeVisible();
    await expect(summary).toBeFocused();
    await expect(summary.getByRole('listitem')).toHaveCount(3);
    const email = page.getByLabel('Adresse électronique pour vous répondre');
    await expect(email).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByText('Adresse électronique invalide (exemple : prenom.nom@exemple.fr).').last()).toBeVisible();
    await expect(page.getByLabel('Nom et prénom')).toHaveValue('Dr Jeanne Moreau');

    await email.fill('jeanne.moreau@exemple.fr');
    await page.getByLabel('Objet').fill('Accès e2e avec JavaScript');
    await page.getByLabel('Message', { exact: true }).fill('Bonjour, je souhaite activer mon compte. Merci.');
    await page.getByRole('button', { name: 'Envoyer la demande' }).click();
    const done = page.getByRole('status').filter({ hasText: 'Votre demande a bien été envoyée.' });
    await expect(done).toBeVisible();
    const ref = /Référence de votre demande : (\d+)/.exec(await done.innerText())![1];

    const mail = await waitForOutbox((t) => t.includes(`[Hygie assistance #${ref}]`));
    expect(mail).toContain('Reply-To: jeanne.moreau@exemple.fr');
    expect(mail).toContain('Bonjour, je souhaite activer mon compte.');
    expect(problems, problems.join('\n')).toEqual([]);
  });
});

test.describe('contact form without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('refuses with inline errors and the input kept, then sends', async ({ page }) => {
    await page.goto('/assistance');
    await page.getByLabel('Nom et prénom').fill('Marc Petit');
    await page.getByLabel('Adresse électronique pour vous répondre').fill('marc.petit@exemple.fr');
    await page.getByLabel('Objet').fill('Sans JavaScript');
    await page.getByLabel('Message', { exact: true }).fill('court');
    await page.getByRole('button', { name: 'Envoyer la demande' }).click();

    await expect(page.getByText('Au moins 10 caractères.').first()).toBeVisible();
    await expect(page.getByLabel('Nom et prénom')).toHaveValue('Marc Petit');
    await expect(page.getByLabel('Objet')).toHaveValue('Sans JavaScript');
    await expect(page.getByLabel('Message', { exact: true })).toHaveValue('court');
    await expect(page.getByLabel('Message', { exact: true })).toHaveAttribute('aria-invalid', 'true');

    await page.getByLabel('Message', { exact: true }).fill('Je ne reçois pas le code de connexion par SMS.');
    await page.getByRole('button', { name: 'Envoyer la demande' }).click();
    await expect(page).toHaveURL(/\/assistance\?envoye=\d+$/);
    await expect(page.getByText('Votre demande a bien été envoyée.')).toBeVisible();
    const ref = /envoye=(\d+)/.exec(page.url())![1];
    const mail = await waitForOutbox((t) => t.includes(`[Hygie assistance #${ref}]`));
    expect(mail).toContain('Je ne reçois pas le code de connexion par SMS.');
  });

  test('cookie consent works without JavaScript', async ({ page, context }) => {
    await page.goto('/cookies');
    await page.getByRole('button', { name: 'Refuser la mesure d\'audience' }).click();
    await expect(page.getByText("Vous avez refusé la mesure d'audience.")).toBeVisible();
    expect((await context.cookies()).find((c) => c.name === 'hygie_consent')!.value).toBe('refused');
  });
});
