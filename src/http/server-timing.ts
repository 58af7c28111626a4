/**
 * Per-stage durations for a `Server-Timing` header (read, decode = decode + preprocess, infer), on when
 * the SERVER_TIMING var is "on" (`npm run bench` turns it on). workerd's clock only advances at I/O, never
 * during synchronous work, so each mark first yields to the event loop with a zero timer: that makes the
 * clock current, and costs a little, hence off by default.
 */
export class StageTimer {
  private last = Date.now();
  private readonly stages: [string, number][] = [];

  /** Ends the stage `name` (everything since the previous mark). */
  async mark(name: string): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    const now = Date.now();
    this.stages.push([name, now - this.last]);
    this.last = now;
  }

  /** The header value, e.g. `read;dur=1, decode;dur=14, infer;dur=9`. */
  header(): string {
    return this.stages.map(([name, ms]) => `${name};dur=${ms}`).join(', ');
  }
}

/** A timer when SERVER_TIMING is "on", else null (no yields, no header). */
export const stageTimer = (setting: string | undefined): StageTimer | null => (setting?.trim().toLowerCase() === 'on' ? new StageTimer() : null);
