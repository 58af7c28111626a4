/** Whether the tests run in CI: `CI` set to anything but empty, "0" or "false" (so `CI=false` is a local run). */
export const IN_CI = !!process.env.CI && !['', '0', 'false'].includes(process.env.CI.trim().toLowerCase());

/**
 * Whether these tests run under Stryker (`npm run mutate`), whose instrumented code is many times slower in hot
 * loops: tests then use a smaller corpus (fewer and smaller images, fewer seeded cases). Never set in `npm test`.
 */
export const MUTATION_RUN = process.env.STRYKER_MUTATOR_WORKER !== undefined;

/** Under Stryker, the group of vitest.mutate.config.ts being mutated (scripts/mutate.ts sets MUTATE_GROUP). */
export const MUTATED_GROUP = MUTATION_RUN ? process.env.MUTATE_GROUP : undefined;

/** `full` in a normal run, `light` under Stryker. */
export const unlessMutating = <T>(full: T, light: T): T => (MUTATION_RUN ? light : full);

/** A CPU-time bound for a test: as given, or 25 times looser under Stryker's instrumented code. */
export const timeLimit = (ms: number): number => (MUTATION_RUN ? ms * 25 : ms);
