import { defineConfig } from '@playwright/test';

// Hygie's end-to-end tests run in Debian's Chromium against a real Hygie started by
// scripts/test.sh (HYGIE_E2E_URL). Never `npx playwright install`: no browser downloads here.
const baseURL = process.env.HYGIE_E2E_URL;
if (!baseURL) {
  throw new Error('HYGIE_E2E_URL is not set: run the end-to-end tests through scripts/test.sh');
}

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL,
    ignoreHTTPSErrors: true,
    locale: 'fr-FR',
    trace: 'off',
    launchOptions: {
      executablePath: process.env.HYGIE_CHROMIUM || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
