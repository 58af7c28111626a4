/**
 * The Worker isolate's own memory, read from `wrangler dev` through its DevTools inspector (start it with
 * `--inspector-port N`): a full garbage collection, then V8's heap usage. This is what counts against the
 * 128 MB isolate limit (with ORT's WASM memory, which does not grow after the first inference), unlike the
 * workerd process's resident set, which also holds the runtime, local storage and dev tooling, and grows
 * by itself under wrangler dev even for a hello-world Worker.
 */
import { readFileSync, readdirSync } from 'node:fs';
import WebSocket from 'ws';

export interface IsolateHeap {
  /** Bytes of the JS heap in use after a full GC. */
  used: number;
  /** Bytes the embedder (workerd) reports as held for the isolate outside the JS heap. */
  embedder: number;
}

/** Forces a GC in the Worker's isolate and reads its heap usage. */
export function isolateHeap(inspectorPort: number): Promise<IsolateHeap> {
  return new Promise((resolve, reject) => {
    // wrangler's inspector proxy only admits DevTools origins.
    const ws = new WebSocket(`ws://127.0.0.1:${inspectorPort}/ws`, { headers: { Origin: 'https://devtools.devprod.cloudflare.dev' } });
    const timer = setTimeout(() => (ws.terminate(), reject(new Error('inspector did not answer'))), 15_000);
    ws.on('error', (error) => (clearTimeout(timer), reject(error)));
    ws.on('open', () => {
      ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
      ws.send(JSON.stringify({ id: 2, method: 'Runtime.getHeapUsage' }));
    });
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: number; result?: { usedSize: number; embedderHeapUsedSize?: number } };
      if (message.id !== 2 || !message.result) return;
      clearTimeout(timer);
      ws.close();
      resolve({ used: message.result.usedSize, embedder: message.result.embedderHeapUsedSize ?? 0 });
    });
  });
}

/** Resident set of all workerd processes on this machine (wrangler dev runs them), in bytes. Linux only. */
export function workerdResidentBytes(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('workerd')) total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      /* the process ended meanwhile */
    }
  }
  return total;
}

/**
 * A DevTools protocol session with the user Worker of a Miniflare instance started with `inspectorPort` (e.g.
 * scripts/lib/production-worker.ts startBundle): `post` sends a method and resolves with its result.
 */
export async function inspectUserWorker(port: number): Promise<{ post: (method: string, params?: object) => Promise<any>; close: () => void }> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { title: string; webSocketDebuggerUrl: string }[];
  // Miniflare's user Worker is `core:user:NAME`; its other services (KV, cache, the entry) are not the Worker.
  const target = targets.find((t) => t.webSocketDebuggerUrl.includes('/core:user:'));
  if (!target) throw new Error(`no user Worker among the inspector's targets: ${targets.map((t) => t.title).join(', ')}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  const pending = new Map<number, (result: unknown) => void>();
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  let id = 0;
  return {
    post: (method, params = {}) => new Promise((resolve) => {
      pending.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    }),
    close: () => ws.close(),
  };
}
