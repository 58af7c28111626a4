/**
 * Extracts the JPEG bytes from a request: a raw `image/jpeg` body or a `multipart/form-data`
 * body with the file in the field `image`. Enforces the byte limit while reading, so an oversized
 * body is never buffered whole.
 */
import { problem } from './problem';

const JPEG_TYPES = new Set(['image/jpeg', 'image/jpg', 'image/pjpeg']);
export const MULTIPART_FIELD = 'image';

/** Reads the uploaded JPEG, or throws a problem (415, 400 empty_body, 413 payload_too_large, 499 client_closed_request). */
export async function readJpegUpload(request: Request, maxBytes: number): Promise<Uint8Array> {
  const contentType = request.headers.get('content-type') ?? '';
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  const isMultipart = mediaType === 'multipart/form-data';
  if (!JPEG_TYPES.has(mediaType) && !isMultipart) {
    throw problem(
      'unsupported_media_type',
      `Send the X-ray as "image/jpeg" or as "multipart/form-data" with the file in the field "${MULTIPART_FIELD}"` +
        (mediaType ? `; got "${mediaType}".` : '; the request has no Content-Type.'),
    );
  }
  // Multipart framing adds a little; allow it without letting the file itself exceed the limit.
  const body = await readBody(request, isMultipart ? maxBytes + 16 * 1024 : maxBytes);
  if (!isMultipart) {
    if (body.length === 0) throw problem('empty_body', 'The request body is empty.');
    return body;
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
  return bytes;
}

async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch {
      // Only the client side can break a request body mid-stream ("Network connection lost"): not our failure.
      throw problem('client_closed_request', 'The connection was closed before the upload was complete.');
    }
    const { done, value } = chunk;
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

function tooLarge(maxBytes: number) {
  return problem('payload_too_large', `The upload is larger than the limit of ${maxBytes} bytes.`);
}
