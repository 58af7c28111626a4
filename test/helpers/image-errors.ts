import { expect } from 'vitest';
import { ImageError, type ImageErrorKind } from '../../src/image/errors';

/**
 * Expects `fn` to throw an ImageError, of `kind` and with `message` (exact, or matching) when given; returns it.
 * Anything else thrown, or nothing, fails the test.
 */
export function expectImageError(fn: () => unknown, kind?: ImageErrorKind, message?: string | RegExp): ImageError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected an ImageError').toBeInstanceOf(ImageError);
  const error = thrown as ImageError;
  if (typeof message === 'string') expect(error.message).toBe(message);
  else if (message) expect(error.message).toMatch(message);
  if (kind) expect(error.kind).toBe(kind);
  return error;
}
