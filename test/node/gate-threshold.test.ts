/**
 * The gate's accept threshold (scripts/export/python/assessment.py `gate_threshold`): the stated quantile of
 * validation chest X-rays' frontal-chest-X-ray probability, bounded to [0.05, 0.95]. A gate sure of every chest
 * X-ray must get a high threshold, not one capped at 0.5 (the cap let through tiled films and lateral views the
 * gate scored 0.5-0.95), but not one inside the bulk of chest X-rays either (0.988 in a trial: test-split chest
 * X-rays refused rose from 0.62 to 1.00 %).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXPORT_DIR, ensurePythonEnv } from '../../scripts/export/python-env';

function thresholds(code: string): number[] {
  const script = `import sys, json, numpy as np\nsys.path.insert(0, sys.argv[1])\nfrom assessment import gate_threshold, GATE_QUANTILE, GATE_THRESHOLD_MAX\n${code}`;
  const result = spawnSync(ensurePythonEnv(() => undefined), ['-c', script, join(EXPORT_DIR, 'python')], { encoding: 'utf8' });
  expect(result.stderr).not.toMatch(/Traceback/);
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as number[];
}

describe('gate threshold', () => {
  it('is the quantile of the chest X-rays\' scores, above 0.5 when the gate is sure of them', () => {
    // 1,000 chest X-rays scoring 0.900, 0.9001, ...: the 0.003 quantile is 0.9003 (linear interpolation).
    const [sure, quantile] = thresholds(`scores = 0.9 + np.arange(1000) / 1e4\nprint(json.dumps([gate_threshold(scores, GATE_QUANTILE), GATE_QUANTILE]))`);
    expect(quantile).toBe(0.003);
    expect(sure).toBeCloseTo(0.9 + 0.003 * 999 / 1e4, 9);
  });

  it('stays within [0.05, 0.95] whatever the scores', () => {
    const [low, high, middle, bound] = thresholds(
      `print(json.dumps([gate_threshold(np.zeros(100), 0.003), gate_threshold(np.ones(100), 0.003), gate_threshold(np.linspace(0, 1, 1001), 0.5), GATE_THRESHOLD_MAX]))`);
    expect(low).toBe(0.05);
    expect(bound).toBe(0.95);
    expect(high).toBe(0.95);
    expect(middle).toBeCloseTo(0.5, 9);
  });
});
