/**
 * RFC 9457 problem details. Every error the API returns is one of these codes; clients switch on
 * `code`, which never changes meaning.
 */
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export const PROBLEMS = {
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  empty_body: { status: 400, title: 'Empty body' },
  invalid_image: { status: 400, title: 'Invalid image' },
  unsupported_image: { status: 422, title: 'Unsupported image' },
  not_a_chest_xray: { status: 422, title: 'Not a chest X-ray' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  // nginx's 499: the client closed the connection mid-upload. Nobody reads the answer; the log and billing do.
  client_closed_request: { status: 499 as number as ContentfulStatusCode, title: 'Client closed request' },
  image_too_large: { status: 413, title: 'Image too large' },
  invalid_parameter: { status: 400, title: 'Invalid parameter' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  rate_limited: { status: 429, title: 'Too many requests' },
  quota_exceeded: { status: 429, title: 'Quota exceeded' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  model_unavailable: { status: 503, title: 'Model unavailable' },
  explanation_unavailable: { status: 501, title: 'Explanation unavailable' },
  internal_error: { status: 500, title: 'Internal error' },
  metering_unavailable: { status: 503, title: 'Metering unavailable' },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

/** A client-sent value as a problem's detail may quote it: never at any length. */
export function quoted(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

/**
 * Builds the problem+json response for `code`.
 * @param extra further members of the body (e.g. `requestId` on a 500)
 */
export function problemResponse(code: ProblemCode, detail: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): Response {
  const { status, title } = PROBLEMS[code];
  const body = { type: `urn:cxr-edge:problem:${code}`, title, status, detail, code, ...extra };
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  });
}

/**
 * An HTTPException carrying a problem+json response, for `throw` inside handlers.
 * @param extra further members of the body (numbers and names only: never anything from the image's pixels)
 */
export function problem(code: ProblemCode, detail: string, headers?: Record<string, string>, extra?: Record<string, unknown>): HTTPException {
  return new HTTPException(PROBLEMS[code].status, { res: problemResponse(code, detail, headers, extra), message: detail });
}
