import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ownedSections, writeSection } from '../../scripts/lib/report-sections';

describe('BENCHMARKS.md sections', () => {
  it('appends a section, replaces it in place on the next write, and hands all of them to the full rewrite', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sections-')), 'B.md');
    writeFileSync(file, '# Benchmarks\n\nbody\n');
    writeSection('load', 'first', file);
    writeSection('int8', 'table', file);
    writeSection('load', 'second', file);
    const text = readFileSync(file, 'utf8');
    expect(text).toBe('# Benchmarks\n\nbody\n\n<!-- load -->\nsecond\n<!-- /load -->\n\n<!-- int8 -->\ntable\n<!-- /int8 -->\n');
    expect(ownedSections(file)).toEqual(['<!-- load -->\nsecond\n<!-- /load -->', '<!-- int8 -->\ntable\n<!-- /int8 -->']);
  });
});
