/**
 * A local `wrangler dev` of the Worker and Debian's headless Chromium, for the browser tests and
 * the README screenshot. Everything stays on loopback.
 */
import { spawn } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Starts `wrangler dev` on `port` and resolves once /readyz answers 200; call the result to stop it. */
export async function startDevServer(port: number): Promise<() => void> {
  const server = spawn('npx', ['wrangler', 'dev', '--port', String(port)], {
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
    stdio: 'ignore',
    detached: true,
  });
  const stop = () => {
    if (server.pid) process.kill(-server.pid, 'SIGTERM');
  };
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return stop;
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

/** Headless Chromium with the flags that keep it off the network (this machine has none). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
