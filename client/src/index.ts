/**
 * A typed client for the cxr-edge API. No dependency beyond `fetch`, so it runs in browsers, React Native,
 * Node 18+ and Workers. Types come from the service's OpenAPI document (./schema.ts, generated).
 *
 * ```ts
 * const cxr = new CxrClient({ baseUrl: 'https://cxr.example.com', apiKey: 'cxr_…' });
 * const { prediction, abstain } = await cxr.classify(jpegOrDicomBytes);
 * ```
 */
import type { components } from './schema';

export type Classification = components['schemas']['Classification'];
export type Explanation = components['schemas']['Explanation'];
export type ModelCard = components['schemas']['ModelCard'];
export type Usage = components['schemas']['Usage'];
export type ProblemBody = components['schemas']['Problem'];
export type ProblemCode = ProblemBody['code'];

export interface ClientOptions {
  /** The service's origin, e.g. https://cxr.example.com */
  baseUrl: string;
  /** An API key (`Authorization: Bearer`); omit for a server started with AUTH off. */
  apiKey?: string;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Per attempt, in milliseconds (default 30 000). */
  timeoutMs?: number;
  /** Further attempts after a 429 or 503 (default 2), each after the server's Retry-After. */
  retries?: number;
  /** The longest Retry-After the client waits for before giving up with the error (default 60 000 ms). */
  maxRetryDelayMs?: number;
}

export type ImageInput = Blob | ArrayBuffer | Uint8Array;
export type ImageType = 'image/jpeg' | 'application/dicom';

export interface RequestOptions {
  /** The upload's type; default: from a Blob's type, else from the bytes (JPEG or DICOM). */
  contentType?: ImageType;
  signal?: AbortSignal;
}

/** An error answer of the API (application/problem+json), with its stable `code`. */
export class ProblemError extends Error {
  readonly status: number;
  readonly code: ProblemCode;
  readonly detail: string;
  /** Seconds, from Retry-After (429, 503), when the server sent one. */
  readonly retryAfter: number | null;
  readonly body: ProblemBody;
  constructor(body: ProblemBody, retryAfter: number | null) {
    super(`${body.status} ${body.code}: ${body.detail}`);
    this.name = 'ProblemError';
    this.status = body.status;
    this.code = body.code;
    this.detail = body.detail;
    this.retryAfter = retryAfter;
    this.body = body;
  }
}

/** The explanation rendered as an image (Accept: image/png or image/jpeg), with the verdict from the headers. */
export interface ExplanationImage {
  image: Blob;
  explainedClass: string;
  prediction: string;
  probability: number;
  abstain: boolean | null;
}

const RETRIED = new Set([429, 503]);

export class CxrClient {
  private readonly options: Required<Omit<ClientOptions, 'apiKey'>> & { apiKey?: string };

  constructor(options: ClientOptions) {
    // Each default by ??, so an option passed as undefined keeps it.
    this.options = {
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      apiKey: options.apiKey,
      fetch: options.fetch ?? ((...args) => fetch(...args)),
      timeoutMs: options.timeoutMs ?? 30_000,
      retries: options.retries ?? 2,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 60_000,
    };
  }

  /** POST /v1/classify. */
  async classify(image: ImageInput, options: RequestOptions = {}): Promise<Classification> {
    return this.request('POST', '/v1/classify', { image, ...options }, (res) => res.json() as Promise<Classification>);
  }

  /** POST /v1/explain as JSON (the Grad-CAM map; `display: 'png'` adds the rendered radiograph). */
  async explain(image: ImageInput, options: RequestOptions & { class?: string; display?: 'png' } = {}): Promise<Explanation> {
    return this.request('POST', `/v1/explain${query({ class: options.class, display: options.display })}`, { image, ...options }, (res) => res.json() as Promise<Explanation>);
  }

  /** POST /v1/explain as an image: the radiograph with the map blended over it. */
  async explainImage(image: ImageInput, options: RequestOptions & { class?: string; accept?: 'image/png' | 'image/jpeg' } = {}): Promise<ExplanationImage> {
    const { accept = 'image/png', ...rest } = options;
    return this.request('POST', `/v1/explain${query({ class: options.class })}`, { image, ...rest, accept }, async (res) => {
      const abstain = res.headers.get('x-abstain');
      return {
        image: await res.blob(),
        explainedClass: res.headers.get('x-explained-class') ?? '',
        prediction: res.headers.get('x-prediction') ?? '',
        probability: Number(res.headers.get('x-prediction-probability')),
        abstain: abstain === null ? null : abstain === 'true',
      };
    });
  }

  /** GET /v1/model: the model card. */
  async model(options: { signal?: AbortSignal } = {}): Promise<ModelCard> {
    return this.request('GET', '/v1/model', options, (res) => res.json() as Promise<ModelCard>);
  }

  /** GET /v1/usage: this key's billable requests this period. */
  async usage(options: { signal?: AbortSignal } = {}): Promise<Usage> {
    return this.request('GET', '/v1/usage', options, (res) => res.json() as Promise<Usage>);
  }

  /**
   * One call: retried after a 429 or 503 as the server's Retry-After says (up to `retries` times and
   * `maxRetryDelayMs`), each attempt bounded by `timeoutMs` — reading the answer's body included — and all of it
   * cancelled by `signal`.
   * @param read turns a successful answer into the result (runs within the attempt's timeout)
   * @throws ProblemError for an error answer; the signal's reason (AbortError) when cancelled; a TimeoutError
   */
  private async request<T>(
    method: 'GET' | 'POST',
    path: string,
    { image, contentType, accept = 'application/json', signal }: { image?: ImageInput; contentType?: ImageType; accept?: string; signal?: AbortSignal },
    read: (res: Response) => Promise<T>,
  ): Promise<T> {
    const headers: Record<string, string> = { accept };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let body: Blob | undefined;
    if (image !== undefined) {
      body = image instanceof Blob ? image : new Blob([(image instanceof Uint8Array ? image : new Uint8Array(image)) as Uint8Array<ArrayBuffer>]);
      headers['content-type'] = contentType ?? (image instanceof Blob && isImageType(image.type) ? image.type : await sniff(body));
    }
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.attempt(`${this.options.baseUrl}${path}`, { method, headers, body }, signal, read);
      if (outcome.ok) return outcome.value;
      const { error } = outcome;
      if (RETRIED.has(error.status) && attempt < this.options.retries && error.retryAfter !== null && error.retryAfter * 1000 <= this.options.maxRetryDelayMs) {
        await sleep(error.retryAfter * 1000, signal);
        continue;
      }
      throw error;
    }
  }

  /** One attempt, its answer read (result or problem) before the timeout and the caller's signal are released. */
  private async attempt<T>(
    url: string,
    init: RequestInit,
    signal: AbortSignal | undefined,
    read: (res: Response) => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: ProblemError }> {
    signal?.throwIfAborted();
    const controller = new AbortController();
    const timeout = new Error(`No answer within ${this.options.timeoutMs} ms`);
    timeout.name = 'TimeoutError';
    const timer = setTimeout(() => controller.abort(timeout), this.options.timeoutMs);
    const cancel = () => controller.abort(signal!.reason);
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      const res = await this.options.fetch(url, { ...init, signal: controller.signal });
      if (res.ok) return { ok: true, value: await read(res) };
      return { ok: false, error: new ProblemError(await problemBody(res), parseRetryAfter(res.headers.get('retry-after'))) };
    } catch (error) {
      // A fetch aborted by our controller rejects with its reason (or a generic AbortError): report the cause.
      if (controller.signal.aborted) throw controller.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', cancel);
    }
  }
}

const isImageType = (type: string): type is ImageType => type === 'image/jpeg' || type === 'application/dicom';

/** JPEG starts FF D8; anything else is sent as DICOM (the service checks the bytes either way). */
async function sniff(body: Blob): Promise<ImageType> {
  const head = new Uint8Array(await body.slice(0, 2).arrayBuffer());
  return head[0] === 0xff && head[1] === 0xd8 ? 'image/jpeg' : 'application/dicom';
}

function query(params: Record<string, string | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined);
  return entries.length ? `?${new URLSearchParams(entries)}` : '';
}

function parseRetryAfter(value: string | null): number | null {
  if (value === null) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}

async function problemBody(res: Response): Promise<ProblemBody> {
  const text = await res.text();
  try {
    return JSON.parse(text) as ProblemBody;
  } catch {
    // Not the API's own answer (a proxy's error page): described with the status alone.
    return { type: 'about:blank', title: res.statusText, status: res.status, detail: text.slice(0, 200), code: 'internal_error' };
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
