/**
 * Stratified, seeded train/validation/test split that keeps every group on one side.
 * Groups are dealt, largest first within each class, to whichever side is furthest below its
 * target share of that class's images.
 */

export interface SplitFractions {
  train: number;
  val: number;
  test: number;
}

export interface Split {
  train: number[];
  val: number[];
  test: number[];
}

const SIDES = ['train', 'val', 'test'] as const;

/** Small seeded PRNG (mulberry32): the same seed gives the same split on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * @param labels class index per item
 * @param groups group id per item; a group's class is the most common label among its items
 */
export function groupSplit(labels: number[], groups: string[], fractions: SplitFractions, seed: number): Split {
  const members = new Map<string, number[]>();
  groups.forEach((group, i) => {
    const list = members.get(group);
    if (list) list.push(i);
    else members.set(group, [i]);
  });
  const byClass = new Map<number, string[]>();
  for (const [group, items] of members) {
    const counts = new Map<number, number>();
    for (const i of items) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
    const label = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
    byClass.set(label, [...(byClass.get(label) ?? []), group]);
  }

  const random = seededRandom(seed);
  const split: Split = { train: [], val: [], test: [] };
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const classGroups = byClass.get(label)!;
    // Seeded shuffle, then a stable sort by size so big groups are placed while there is room.
    for (let i = classGroups.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [classGroups[i], classGroups[j]] = [classGroups[j], classGroups[i]];
    }
    classGroups.sort((a, b) => members.get(b)!.length - members.get(a)!.length);
    const total = classGroups.reduce((n, g) => n + members.get(g)!.length, 0);
    const placed = { train: 0, val: 0, test: 0 };
    for (const group of classGroups) {
      const size = members.get(group)!.length;
      const side = SIDES.reduce((best, s) =>
        fractions[s] * total - placed[s] > fractions[best] * total - placed[best] ? s : best,
      );
      placed[side] += size;
      split[side].push(...members.get(group)!);
    }
  }
  for (const side of SIDES) split[side].sort((a, b) => a - b);
  return split;
}
