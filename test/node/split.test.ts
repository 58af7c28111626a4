import { describe, expect, it } from 'vitest';
import { groupSplit, seededRandom } from '../../scripts/export/split';
import { parseCsv } from '../../scripts/export/dataset';

function synthetic(n: number, seed: number) {
  const random = seededRandom(seed);
  const labels: number[] = [];
  const groups: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = random() < 0.5 ? 0 : random() < 0.5 ? 1 : 2;
    labels.push(label);
    // Groups of 1..6 images, as patients with several radiographs.
    groups.push(`g${label}-${Math.floor(i / (1 + Math.floor(random() * 6)))}`);
  }
  return { labels, groups };
}

describe('group-aware split', () => {
  it('never puts one group on two sides, and uses every item once', () => {
    for (const seed of [1, 2, 3]) {
      const { labels, groups } = synthetic(3000, seed);
      const split = groupSplit(labels, groups, { train: 0.8, val: 0.1, test: 0.1 }, seed);
      const side = new Map<string, string>();
      for (const name of ['train', 'val', 'test'] as const) {
        for (const i of split[name]) {
          expect(side.get(groups[i]) ?? name).toBe(name);
          side.set(groups[i], name);
        }
      }
      expect([...split.train, ...split.val, ...split.test].sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
    }
  });

  it('is stratified near 80/10/10 per class and reproducible from the seed', () => {
    const { labels, groups } = synthetic(5000, 9);
    const a = groupSplit(labels, groups, { train: 0.8, val: 0.1, test: 0.1 }, 42);
    expect(groupSplit(labels, groups, { train: 0.8, val: 0.1, test: 0.1 }, 42)).toEqual(a);
    expect(groupSplit(labels, groups, { train: 0.8, val: 0.1, test: 0.1 }, 43)).not.toEqual(a);
    for (const label of [0, 1, 2]) {
      const total = labels.filter((l) => l === label).length;
      const share = (part: number[]) => part.filter((i) => labels[i] === label).length / total;
      expect(share(a.train)).toBeCloseTo(0.8, 1);
      expect(share(a.val)).toBeCloseTo(0.1, 1);
      expect(share(a.test)).toBeCloseTo(0.1, 1);
    }
  });

  it('reads quoted CSV fields', () => {
    expect(parseCsv('file,class,unit\n"a, b.jpg",X,"u""1"\r\nc.jpg,Y,u2\n')).toEqual([
      { file: 'a, b.jpg', class: 'X', unit: 'u"1' },
      { file: 'c.jpg', class: 'Y', unit: 'u2' },
    ]);
  });
});
