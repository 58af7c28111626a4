import { readFileSync, readdirSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { preprocessImage } from '../../src/preprocess';
const files = readdirSync('/tmp/q90').map((f) => new Uint8Array(readFileSync('/tmp/q90/' + f)));
const L = { maxPixels: 5e7, maxDecodeBytes: 4e7 };
for (const b of files) preprocessImage(b, 256, L);
const s = new Session(); s.connect();
await s.post('Profiler.enable'); await s.post('Profiler.setSamplingInterval', { interval: 50 });
await s.post('Profiler.start');
for (let r = 0; r < 5; r++) for (const b of files) preprocessImage(b, 256, L);
const { profile } = await s.post('Profiler.stop');
const lines = new Map<string, number>(); let total = 0;
const self = new Map<string, number>();
for (const n of profile.nodes) {
  total += n.hitCount ?? 0;
  const key = n.callFrame.url.split('/').slice(-2).join('/') + ':' + n.callFrame.functionName;
  self.set(key, (self.get(key) ?? 0) + (n.hitCount ?? 0));
  for (const t of n.positionTicks ?? []) { const k = n.callFrame.url.split('/').pop() + ':' + t.line; lines.set(k, (lines.get(k) ?? 0) + t.ticks); }
}
console.log('total', total);
console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${(100 * v / total).toFixed(1)}% ${k}`).join('\n'));
console.log([...lines].sort((a, b) => b[1] - a[1]).slice(0, 30).map(([k, v]) => `${(100 * v / total).toFixed(1)}% ${k}`).join('\n'));
