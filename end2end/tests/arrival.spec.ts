import { test, expect } from '@playwright/test';
import { execFileSync, spawn, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { watchConsole, signInToMailbox, DEMO } from './helpers';

// Mail from another operator, live: a laboratory's message goes through a real Postfix (Debian's,
// playing the other operator's MTA, TLS required towards Hygie) and shows in the nurse's open
// mailbox without a reload.

const LAB = 'dr.martin@labo.mssante.fr';

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Postfix as its own instance in a temporary directory, relaying everything to `relayhost`. */
class Postfix {
  private constructor(readonly dir: string, readonly port: number, private child: ChildProcess) {}

  static async start(relayhost: string): Promise<Postfix> {
    if (process.getuid && process.getuid() !== 0) {
      throw new Error("this test needs root: Postfix's master runs as root and drops to the postfix user");
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hygie-postfix-'));
    fs.chmodSync(dir, 0o755);
    fs.mkdirSync(path.join(dir, 'queue'));
    fs.mkdirSync(path.join(dir, 'data'));
    execFileSync('chown', ['postfix', path.join(dir, 'data')]);
    const port = await freePort();
    fs.writeFileSync(
      path.join(dir, 'main.cf'),
      [
        'compatibility_level = 3.6',
        `queue_directory = ${dir}/queue`,
        `data_directory = ${dir}/data`,
        'mail_owner = postfix',
        'setgid_group = postdrop',
        'inet_interfaces = 127.0.0.1',
        'inet_protocols = ipv4',
        'myhostname = mx.labo.mssante.fr',
        'mydomain = labo.mssante.fr',
        'myorigin = labo.mssante.fr',
        'mydestination =',
        'mynetworks = 127.0.0.0/8',
        'alias_maps =',
        'alias_database =',
        'maillog_file = /dev/stdout',
        `relayhost = ${relayhost}`,
        'smtp_tls_security_level = encrypt',
        'smtp_tls_loglevel = 1',
        '',
      ].join('\n'),
    );
    const master = fs
      .readFileSync('/etc/postfix/master.cf', 'utf8')
      .split('\n')
      .map((l) => (l.startsWith('smtp ') && l.includes(' inet ') ? `127.0.0.1:${port} inet n - n - - smtpd` : l));
    fs.writeFileSync(path.join(dir, 'master.cf'), master.join('\n') + '\n');
    const log = fs.openSync(path.join(dir, 'log'), 'w');
    const child = spawn('postfix', ['-c', dir, 'start-fg'], { stdio: ['ignore', log, log] });
    const deadline = Date.now() + 20_000;
    while (!(await listening(port))) {
      if (Date.now() > deadline) throw new Error(`Postfix did not start:\n${fs.readFileSync(path.join(dir, 'log'), 'utf8')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return new Postfix(dir, port, child);
  }

  log(): string {
    return fs.readFileSync(path.join(this.dir, 'log'), 'utf8');
  }

  stop() {
    try {
      execFileSync('postfix', ['-c', this.dir, 'stop'], { stdio: 'ignore' });
    } catch {
      // Already stopped.
    }
    this.child.kill();
  }
}

test('a message relayed by Postfix appears in the open mailbox without a reload', async ({ page }) => {
  const listen = process.env.HYGIE_SMTP__LISTEN;
  const bin = process.env.HYGIE_E2E_BIN;
  if (!listen || listen.endsWith(':0') || !bin) throw new Error('HYGIE_SMTP__LISTEN (a fixed port) and HYGIE_E2E_BIN must be set');
  const hygiePort = listen.split(':').pop();

  // The operator's trust space holds the laboratory's domain.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hygie-trust-'));
  const list = path.join(dir, 'liste-blanche.xml');
  fs.writeFileSync(
    list,
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListeBlanche xmlns="https://listeblanche.mssante.fr/schema">\n' +
      '  <Operateur><Domaine><Nom>labo.mssante.fr</Nom></Domaine></Operateur>\n</ListeBlanche>\n',
  );
  execFileSync(bin, ['trust-space', 'import', list], { encoding: 'utf8' });

  const problems = watchConsole(page);
  await signInToMailbox(page, DEMO.nurse.address, DEMO.nurse.password, DEMO.nurse.email);
  // Marks this very page: a reload would lose the mark.
  await page.evaluate(() => ((window as unknown as { hygieMark: number }).hygieMark = 42));

  const postfix = await Postfix.start(`[127.0.0.1]:${hygiePort}`);
  try {
    const subject = `Résultats de biologie ${Date.now()}`;
    execFileSync('swaks', [
      '--server', '127.0.0.1', '--port', String(postfix.port), '--helo', 'poste.labo.mssante.fr',
      '--from', LAB, '--to', DEMO.nurse.address,
      '--header', `Subject: ${subject}`,
      '--header', 'Content-Type: text/plain; charset=utf-8',
      '--body', 'Glycémie à jeun : 0,95 g/L.',
    ], { encoding: 'utf8' });

    const line = page.locator('.message-list li').filter({ hasText: subject });
    await expect(line, postfix.log()).toBeVisible({ timeout: 40_000 });
    expect(await page.evaluate(() => (window as unknown as { hygieMark?: number }).hygieMark)).toBe(42);
    expect(postfix.log()).toContain('status=sent (250 2.0.0 Message accepted and committed)');
    expect(postfix.log()).toContain('TLS connection established to 127.0.0.1');

    await line.getByRole('link').click();
    await expect(page.getByRole('heading', { level: 1 })).toContainText(subject);
    // In the message (its folder's list beside it shows the same words as a snippet).
    await expect(page.getByRole('article').getByText('Glycémie à jeun : 0,95 g/L.')).toBeVisible();
  } finally {
    postfix.stop();
  }
  expect(problems).toEqual([]);
});
