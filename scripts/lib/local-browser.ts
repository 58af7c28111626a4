/**
 * A local `wrangler dev` of the Worker and Debian's headless Chromium, for the browser tests and
 * the README screenshot. Everything stays on loopback.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Starts `wrangler dev` on `port` and resolves once `readyPath` answers 200; call the result to stop it.
 * @param extraArgs more wrangler dev arguments, e.g. `--persist-to DIR` (the local KV with test keys) or `--var AUTH:off`
 * @param readyPath `/readyz` (the default) loads the model first; `/healthz` leaves the isolate cold
 */
export async function startDevServer(port: number, extraArgs: string[] = [], readyPath = '/readyz'): Promise<() => void> {
  const server = spawn('npx', ['wrangler', 'dev', '--port', String(port), ...extraArgs], {
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
    stdio: 'ignore',
    detached: true,
  });
  const stop = () => {
    if (server.pid) process.kill(-server.pid, 'SIGTERM');
  };
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}${readyPath}`)).ok) return stop;
    } catch {
      /* still starting */
    }
    if (i > 240) {
      stop();
      throw new Error('wrangler dev did not become ready');
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Creates an API key in the local KV store under `persistTo` with `npm run keys` (what a user does)
 * and returns it; pass `--persist-to persistTo` to startDevServer so the Worker sees it.
 */
export function createLocalKey(persistTo: string, name: string, quota = 1_000_000): { key: string; id: string } {
  const result = spawnSync('npx', ['tsx', new URL('../keys.ts', import.meta.url).pathname, 'create', '--name', name, '--quota', String(quota), '--json', '--persist-to', persistTo], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`npm run keys failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!);
}

/** Headless Chromium with the flags that keep it off the network (this machine has none). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
