/**
 * Reads `metadata_props` (ModelProto field 14) from an ONNX file. onnxruntime-web does not expose
 * custom metadata, so this walks the top level of the protobuf and skips everything else by length
 * (the graph is never parsed).
 */

const METADATA_PROPS_FIELD = 14;
const KEY_FIELD = 1;
const VALUE_FIELD = 2;
const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

interface Field {
  number: number;
  wire: number;
  /** Set for length-delimited fields. */
  bytes?: Uint8Array;
}

function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const byte = buf[pos++];
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('varint too long');
    }
  };
  while (pos < buf.length) {
    const tag = varint();
    const number = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === WIRE_VARINT) varint();
    else if (wire === WIRE_I64) pos += 8;
    else if (wire === WIRE_I32) pos += 4;
    else if (wire === WIRE_LEN) {
      const length = varint();
      if (pos + length > buf.length) throw new Error('truncated field');
      yield { number, wire, bytes: buf.subarray(pos, pos + length) };
      pos += length;
      continue;
    } else throw new Error(`unsupported wire type ${wire}`);
    yield { number, wire };
  }
}

/** Returns the model's metadata_props as a plain key -> value map. */
export function readOnnxMetadata(model: Uint8Array): Record<string, string> {
  const decoder = new TextDecoder();
  const props: Record<string, string> = {};
  for (const field of fields(model)) {
    if (field.number !== METADATA_PROPS_FIELD || !field.bytes) continue;
    let key = '';
    let value = '';
    for (const entry of fields(field.bytes)) {
      if (entry.number === KEY_FIELD && entry.bytes) key = decoder.decode(entry.bytes);
      if (entry.number === VALUE_FIELD && entry.bytes) value = decoder.decode(entry.bytes);
    }
    props[key] = value;
  }
  return props;
}
