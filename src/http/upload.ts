/**
 * Extracts the image bytes from a request: a raw `image/jpeg` or `application/dicom` (RFC 3240) body, or a
 * `multipart/form-data` body with the file in the field `image`. Enforces the byte limit while reading, so
 * an oversized body is never buffered whole. The declared type is passed on: the decoder checks the bytes
 * agree with it.
 */
import type { ImageFormat } from '../preprocess';
import { problem } from './problem';

// A Map, not an object: "constructor" or "__proto__" must not look like a declared type.
const DECLARED_FORMATS = new Map<string, ImageFormat>([
  ['image/jpeg', 'jpeg'],
  ['image/jpg', 'jpeg'],
  ['image/pjpeg', 'jpeg'],
  ['application/dicom', 'dicom'],
]);
export const MULTIPART_FIELD = 'image';
/** What a multipart body may carry beyond the file's limit: boundaries and part headers. */
const MULTIPART_FRAMING_BYTES = 16 * 1024;

export interface Upload {
  bytes: Uint8Array;
  /** The format the Content-Type (or the multipart part's type) declares; undefined: decide from the bytes. */
  declaredFormat?: ImageFormat;
}

const mediaTypeOf = (contentType: string) => contentType.split(';')[0].trim().toLowerCase();

/** What checkUploadHeaders read from an upload's headers. */
export interface UploadHeaders {
  contentType: string;
  mediaType: string;
  isMultipart: boolean;
  /** The most bytes the body may have: the limit plus multipart framing. */
  bodyLimit: number;
  /** The Content-Length, NaN when there is none. */
  declared: number;
}

/**
 * Checks what an upload's headers alone decide, before any of its body is read: 415 for the type, 413 for a declared
 * length over the limit (multipart framing adds a little; allowed without letting the file itself exceed the limit).
 */
export function checkUploadHeaders(request: Request, maxBytes: number): UploadHeaders {
  const contentType = request.headers.get('content-type') ?? '';
  const mediaType = mediaTypeOf(contentType);
  const isMultipart = mediaType === 'multipart/form-data';
  if (!DECLARED_FORMATS.has(mediaType) && !isMultipart) {
    throw problem(
      'unsupported_media_type',
      `Send the X-ray as "image/jpeg", as "application/dicom", or as "multipart/form-data" with the file in the field "${MULTIPART_FIELD}"` +
        (mediaType ? `; got "${mediaType.slice(0, 64)}".` : '; the request has no Content-Type.'),
    );
  }
  const bodyLimit = maxBytes + (isMultipart ? MULTIPART_FRAMING_BYTES : 0);
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > bodyLimit) throw tooLarge(maxBytes);
  return { contentType, mediaType, isMultipart, bodyLimit, declared };
}

/**
 * Reads the uploaded image, or throws a problem (415, 400 empty_body, 413 payload_too_large, 499 client_closed_request).
 * @param headers the upload's headers as checkUploadHeaders read them, when the caller checked them already
 */
export async function readImageUpload(request: Request, maxBytes: number, headers = checkUploadHeaders(request, maxBytes)): Promise<Upload> {
  const { contentType, mediaType, isMultipart } = headers;
  const body = await readBody(request, maxBytes, headers);
  if (!isMultipart) {
    if (body.length === 0) throw problem('empty_body', 'The request body is empty.');
    return { bytes: body, declaredFormat: DECLARED_FORMATS.get(mediaType) };
  }
  let form: FormData;
  try {
    form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw problem('empty_body', 'The multipart body could not be parsed.');
  }
  const file = form.get(MULTIPART_FIELD);
  if (file === null || typeof file === "string") {
    throw problem('empty_body', `The multipart body has no file in the field "${MULTIPART_FIELD}".`);
  }
  const bytes = new Uint8Array(await (file as Blob).arrayBuffer());
  if (bytes.length === 0) throw problem('empty_body', `The file in the field "${MULTIPART_FIELD}" is empty.`);
  if (bytes.length > maxBytes) throw tooLarge(maxBytes);
  // A part typed image/jpeg or application/dicom is held to it; a browser's application/octet-stream for a
  // .dcm file (or no type) leaves the choice to the bytes.
  return { bytes, declaredFormat: DECLARED_FORMATS.get(mediaTypeOf((file as Blob).type)) };
}

/**
 * Reads the body, refusing it once it passes `bodyLimit` (a declared length over it was refused by checkUploadHeaders);
 * the refusal names `maxBytes`, the client's limit.
 */
async function readBody(request: Request, maxBytes: number, { bodyLimit, declared }: UploadHeaders): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  // With a declared length the body is read into one buffer of that size: collecting chunks and joining them
  // would hold it twice (an 18 MB DICOM is 36 MB for a moment, in a 128 MB isolate).
  // A declared 0 counts too: a body sent after "Content-Length: 0" is longer than declared.
  if (declared >= 0) {
    const byob = byobReader(request.body);
    if (byob) return readDeclared(byob, declared, maxBytes);
  }
  const exact = declared >= 0 ? new Uint8Array(declared) : null;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await readChunk(() => reader.read());
    if (done) break;
    if (total + value.byteLength > bodyLimit || (exact && total + value.byteLength > exact.length)) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    if (exact) exact.set(value, total);
    else chunks.push(value);
    total += value.byteLength;
  }
  if (exact) return exact.subarray(0, total); // a body shorter than it declared: what arrived, no zero tail
  // Stryker disable next-line ConditionalExpression: a copy of the single chunk has the same bytes; this only saves the copy
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** A BYOB reader of `body`, or null where the stream is not a byte stream (e.g. one a test built by hand). */
function byobReader(body: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | null {
  try {
    return body.getReader({ mode: 'byob' });
  } catch {
    return null;
  }
}

/**
 * Reads a body of `declared` bytes straight into one buffer. A default reader hands over workerd's body in 4 KB
 * chunks (about 180 reads and copies for a 700 KB film, 6 ms a request); reads into the buffer's free space take a
 * few. One byte of spare room shows a body longer than it declared.
 */
async function readDeclared(reader: ReadableStreamBYOBReader, declared: number, maxBytes: number): Promise<Uint8Array> {
  let buffer = new ArrayBuffer(declared + 1);
  let total = 0;
  for (;;) {
    const { done, value } = await readChunk(() => reader.read(new Uint8Array(buffer, total, buffer.byteLength - total)));
    // Each read transfers the buffer: carry on in the one it comes back in (an empty view of it at the end).
    if (value) buffer = value.buffer as ArrayBuffer;
    if (done) break;
    total += value.byteLength;
    if (total > declared) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
  }
  return new Uint8Array(buffer, 0, total); // a body shorter than it declared: what arrived, no zero tail
}

async function readChunk<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch {
    // Only the client side can break a request body mid-stream ("Network connection lost"): not our failure.
    throw problem('client_closed_request', 'The connection was closed before the upload was complete.');
  }
}

function tooLarge(maxBytes: number) {
  return problem('payload_too_large', `The upload is larger than the limit of ${maxBytes} bytes.`);
}
