/**
 * BENCHMARKS.md is written by several commands: `npm run bench` writes the whole file, and commands that
 * measure one thing (`npm run load`, scripts/bench/int8.ts) own a section between `<!-- name -->` and
 * `<!-- /name -->` that the others keep.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export const BENCHMARKS = new URL('../../BENCHMARKS.md', import.meta.url).pathname;

/** Replaces (or appends) the section `name` of `file` with `body` (taken literally: a `$&` in it stays as it is). */
export function writeSection(name: string, body: string, file = BENCHMARKS): void {
  const section = `<!-- ${name} -->\n${body.trim()}\n<!-- /${name} -->`;
  const pattern = new RegExp(`<!-- ${name} -->[\\s\\S]*<!-- /${name} -->`);
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, pattern.test(text) ? text.replace(pattern, () => section) : `${text.trimEnd()}\n\n${section}\n`);
}

/** Every owned section of `file`, in order, to carry over when the whole file is rewritten. */
export function ownedSections(file = BENCHMARKS): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/<!-- ([\w-]+) -->[\s\S]*?<!-- \/\1 -->/g)].map((m) => m[0]);
}
