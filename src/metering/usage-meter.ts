/**
 * One Durable Object per API key: the exact count of its billable requests per period, and its quota.
 *
 * A request first reserves a unit (refused once used + reserved reach the quota), then either commits it
 * (the classification succeeded: counted, billed) or releases it (anything else: not billed). A Durable
 * Object handles one call at a time, so concurrent requests can neither double-count nor lose a count,
 * and the quota is never exceeded. Reservations live in memory only: if the object restarts while one is
 * open, that request's commit still counts it and its release does nothing.
 */
import { DurableObject } from 'cloudflare:workers';

export interface PeriodUsage {
  period: string;
  /** Billable requests counted in the period, all endpoints. */
  used: number;
  /** Per endpoint (e.g. classify, explain). */
  byEndpoint: Record<string, number>;
}

export class UsageMeter extends DurableObject {
  private reserved = 0;

  /** Reserves one billable request in `period`; false when the quota is used up. */
  async reserve(period: string, quota: number): Promise<boolean> {
    const { used } = await this.usage(period);
    if (used + this.reserved >= quota) return false;
    this.reserved++;
    return true;
  }

  /** Counts a reserved request as billed; returns the period's usage after it. */
  async commit(period: string, endpoint: string): Promise<PeriodUsage> {
    this.reserved = Math.max(0, this.reserved - 1);
    const usage = await this.usage(period);
    usage.used++;
    usage.byEndpoint[endpoint] = (usage.byEndpoint[endpoint] ?? 0) + 1;
    await this.ctx.storage.put(`usage:${period}`, usage);
    return usage;
  }

  /** Gives a reservation back: the request failed and is not billed. */
  release(): void {
    this.reserved = Math.max(0, this.reserved - 1);
  }

  /** The counts of `period` (YYYY-MM). */
  async usage(period: string): Promise<PeriodUsage> {
    return (await this.ctx.storage.get<PeriodUsage>(`usage:${period}`)) ?? { period, used: 0, byEndpoint: {} };
  }
}

/** The billing period a moment falls in: the calendar month, UTC. */
export function billingPeriod(now = new Date()): { period: string; resetsAt: string } {
  const period = now.toISOString().slice(0, 7);
  const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { period, resetsAt: next.toISOString() };
}
