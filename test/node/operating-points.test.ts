/**
 * scripts/export/python/operating_points.py, the thresholds every export chooses: checked against a brute
 * force over every candidate threshold, on seeded synthetic scores.
 */
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { ensurePythonEnv } from '../../scripts/export/python-env';

const SCRIPT = `
import json, sys
import numpy as np
sys.path.insert(0, "scripts/export/python")
import operating_points as OP
rng = np.random.default_rng(7)
classes = ["Bacterial Pneumonia", "COVID", "Normal", "Tuberculosis", "Viral Pneumonia"]
labels = rng.integers(0, 5, 600)
logits = rng.normal(size=(600, 5)) + 1.5 * np.eye(5)[labels]
p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
p = np.round(p, 3)  # ties, as real calibrated outputs have
t = OP.choose(p, labels, classes)
print(json.dumps({"p": p.tolist(), "labels": labels.tolist(), "thresholds": t, "figures": OP.figures(p, labels, classes, t)}))
`;

it('screening keeps sensitivity >= 0.90 at the highest such threshold; balanced maximises Youden’s J', () => {
  const run = spawnSync(ensurePythonEnv(() => {}), ['-c', SCRIPT], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  const { p, labels, thresholds, figures } = JSON.parse(run.stdout) as {
    p: number[][];
    labels: number[];
    thresholds: Record<'screening' | 'balanced', Record<string, number>>;
    figures: Record<string, Record<string, { sensitivity: number; specificity: number }>>;
  };
  const classes = Object.keys(thresholds.balanced);
  classes.forEach((c, k) => {
    const rate = (t: number) => {
      let tp = 0, fn = 0, tn = 0, fp = 0;
      p.forEach((row, i) => {
        const called = row[k] >= t;
        if (labels[i] === k) called ? tp++ : fn++;
        else called ? fp++ : tn++;
      });
      return { sensitivity: tp / (tp + fn), specificity: tn / (tn + fp) };
    };
    const candidates = [...new Set(p.map((row) => row[k]))];
    const youden = (t: number) => rate(t).sensitivity + rate(t).specificity - 1;
    const best = Math.max(...candidates.map(youden));
    expect(youden(thresholds.balanced[c]), c).toBeCloseTo(best, 10);
    const s = thresholds.screening[c];
    if (c === 'Normal') {
      expect(s).toBe(thresholds.balanced[c]);
    } else {
      expect(rate(s).sensitivity, c).toBeGreaterThanOrEqual(0.9);
      // No higher candidate keeps sensitivity >= 0.90.
      for (const t of candidates) if (t > s) expect(rate(t).sensitivity, `${c} at ${t}`).toBeLessThan(0.9);
    }
    for (const point of ['screening', 'balanced'] as const) {
      const measured = rate(thresholds[point][c]);
      expect(figures[point][c].sensitivity).toBeCloseTo(measured.sensitivity, 4);
      expect(figures[point][c].specificity).toBeCloseTo(measured.specificity, 4);
    }
  });
});
