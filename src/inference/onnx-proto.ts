/**
 * Reads what the Worker needs straight from an ONNX file's protobuf: `metadata_props` (which
 * onnxruntime-web does not expose) and named float initializers (the classifier head's weights, for
 * Grad-CAM). Fields are walked by tag and skipped by length; nothing else is decoded.
 */

const GRAPH_FIELD = 7; // ModelProto.graph
const INITIALIZER_FIELD = 5; // GraphProto.initializer
const METADATA_PROPS_FIELD = 14; // ModelProto.metadata_props
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
  /** Set for varint fields. */
  value?: number;
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
    if (wire === WIRE_VARINT) {
      yield { number, wire, value: varint() };
      continue;
    } else if (wire === WIRE_I64) pos += 8;
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

// TensorProto fields
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_FLOAT_DATA = 4;
const TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9;
const FLOAT = 1;

export interface FloatTensor {
  dims: number[];
  data: Float32Array;
}

/** Returns the float32 initializers whose names are in `names`; throws if one is missing. */
export function readOnnxInitializers(model: Uint8Array, names: readonly string[]): Record<string, FloatTensor> {
  const wanted = new Set(names);
  const found: Record<string, FloatTensor> = {};
  const decoder = new TextDecoder();
  for (const field of fields(model)) {
    if (field.number !== GRAPH_FIELD || !field.bytes) continue;
    for (const graphField of fields(field.bytes)) {
      if (graphField.number !== INITIALIZER_FIELD || !graphField.bytes) continue;
      const tensor = graphField.bytes;
      let name = '';
      for (const t of fields(tensor)) if (t.number === TENSOR_NAME && t.bytes) name = decoder.decode(t.bytes);
      if (!wanted.has(name)) continue;
      found[name] = readFloatTensor(tensor, name);
    }
  }
  const missing = names.filter((n) => !(n in found));
  if (missing.length) throw new Error(`model has no initializer ${missing.join(', ')}`);
  return found;
}

function readFloatTensor(tensor: Uint8Array, name: string): FloatTensor {
  const dims: number[] = [];
  let dataType = 0;
  let raw: Uint8Array | undefined;
  let packed: Uint8Array | undefined;
  for (const t of fields(tensor)) {
    if (t.number === TENSOR_DIMS) {
      if (t.bytes) dims.push(...varints(t.bytes));
      else if (t.value !== undefined) dims.push(t.value);
    } else if (t.number === TENSOR_DATA_TYPE && t.value !== undefined) dataType = t.value;
    else if (t.number === TENSOR_RAW_DATA) raw = t.bytes;
    else if (t.number === TENSOR_FLOAT_DATA && t.bytes) packed = t.bytes;
  }
  if (dataType !== FLOAT) throw new Error(`initializer ${name} is not float32`);
  const bytes = raw ?? packed ?? new Uint8Array(0);
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== count * 4) throw new Error(`initializer ${name} has ${bytes.length} bytes for ${count} floats`);
  // Copy: the source may be unaligned, and ONNX stores little-endian like every Workers host.
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(bytes);
  return { dims, data };
}

function varints(buf: Uint8Array): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const byte of buf) {
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) {
      out.push(value);
      value = 0;
      shift = 0;
    }
  }
  return out;
}
