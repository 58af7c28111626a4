/**
 * Decisions at named operating points: thresholds from the model's metadata (chosen by the export), the
 * default, ?operatingPoint=, and refusals of names the model does not have.
 */
import { describe, expect, it } from 'vitest';
import { api, xray, type ClassifyBody, type ProblemBody } from './helpers';

interface Decided extends ClassifyBody {
  decision: { operatingPoint: string; thresholds: Record<string, number>; positive: Record<string, boolean>; positives: string[] };
}
interface Card {
  classes: string[];
  assessment: { operatingPoints: { default: string; thresholds: Record<string, Record<string, number>>; screened: string[]; targetSensitivity: number } };
}

describe('operating points', () => {
  it('the model card lists the export’s thresholds: screening and balanced for every class', async () => {
    const card = (await (await api('/v1/model')).json()) as Card;
    const points = card.assessment.operatingPoints;
    expect(Object.keys(points.thresholds).sort()).toEqual(['balanced', 'screening']);
    expect(points.default).toBe('balanced');
    expect(points.targetSensitivity).toBe(0.9);
    for (const point of Object.values(points.thresholds)) {
      expect(Object.keys(point)).toEqual(card.classes);
      for (const t of Object.values(point)) expect(t).toBeGreaterThanOrEqual(0);
    }
  });

  it('answers the default point’s decision, and another by ?operatingPoint=; positive means p >= threshold', async () => {
    const card = (await (await api('/v1/model')).json()) as Card;
    const image = xray('gray-baseline');
    for (const point of ['', 'screening', 'balanced']) {
      const res = await api(`/v1/classify${point ? `?operatingPoint=${point}` : ''}`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Decided;
      const name = point || card.assessment.operatingPoints.default;
      expect(body.decision.operatingPoint).toBe(name);
      expect(body.decision.thresholds).toEqual(card.assessment.operatingPoints.thresholds[name]);
      for (const c of card.classes) expect(body.decision.positive[c], c).toBe(body.probabilities[c] >= body.decision.thresholds[c]);
      expect(body.decision.positives).toEqual(card.classes.filter((c) => body.decision.positive[c]).sort((a, b) => body.probabilities[b] - body.probabilities[a]));
    }
  });

  it('refuses an operating point the model does not have with 400 invalid_parameter, before any work', async () => {
    const res = await api('/v1/explain?operatingPoint=aggressive', { method: 'POST', body: xray('gray-baseline'), headers: { 'content-type': 'image/jpeg' } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ProblemBody;
    expect(body.code).toBe('invalid_parameter');
    expect(body.detail).toMatch(/use one of: screening, balanced|use one of: balanced, screening/);
  });
});
