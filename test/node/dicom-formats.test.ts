/**
 * The DICOM structure on hand-built bytes, each branch with the exact error a client reads: the data set parser in
 * its three encodings (src/image/dicom/dataset.ts), the file reader (file.ts: preamble, meta group, bare data sets,
 * deflate), the header checks and the pixel module. dicom.test.ts covers whole files from dcmtk, gdcm and pydicom
 * and the pixels; this file pins the parsing around them.
 */
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/image/bytes';
import { parseDataSet, type Encoding } from '../../src/image/dicom/dataset';
import { looksLikeDicom, readDicomFile } from '../../src/image/dicom/file';
import { checkChestHeader } from '../../src/image/dicom/header-checks';
import { readPixelModule } from '../../src/image/dicom/pixel-module';
import { Tag } from '../../src/image/dicom/tags';
import { printableUid, transferSyntax } from '../../src/image/dicom/transfer-syntaxes';
import { ImageError } from '../../src/image/errors';
import { expectImageError } from '../helpers/image-errors';

const ELE: Encoding = { littleEndian: true, explicitVR: true };
const ILE: Encoding = { littleEndian: true, explicitVR: false };
const EBE: Encoding = { littleEndian: false, explicitVR: true };
const LONG = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;

const u16 = (v: number, le = true) => (le ? [v & 255, (v >> 8) & 255] : [(v >> 8) & 255, v & 255]);
const u32 = (v: number, le = true) => {
  const b = [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24];
  return le ? b : b.reverse();
};
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const cat = (...parts: (number[] | Uint8Array)[]) => concatBytes(parts.map((p) => Uint8Array.from(p)));
const tagBytes = (tag: number, le = true) => [...u16(tag >>> 16, le), ...u16(tag & 0xffff, le)];

/** One data element in `enc`; `length` overrides the value's (e.g. UNDEFINED). */
function el(tag: number, vr: string, value: number[] | Uint8Array | string = [], enc = ELE, length?: number): Uint8Array {
  const bytes = typeof value === 'string' ? ascii(value) : Array.from(value);
  const n = length ?? bytes.length;
  const le = enc.littleEndian;
  const header = !enc.explicitVR ? [...tagBytes(tag, le), ...u32(n, le)]
    : LONG.has(vr) ? [...tagBytes(tag, le), ...ascii(vr), 0, 0, ...u32(n, le)]
    : [...tagBytes(tag, le), ...ascii(vr), ...u16(n, le)];
  return cat(header, bytes);
}
const item = (content: Uint8Array, le = true, length = content.length) => cat(tagBytes(Tag.Item, le), u32(length, le), content);
const itemEnd = (le = true) => cat(tagBytes(Tag.ItemDelimitation, le), u32(0, le));
const seqEnd = (le = true) => cat(tagBytes(Tag.SequenceDelimitation, le), u32(0, le));
const parse = (bytes: Uint8Array, enc = ELE, options = {}) => parseDataSet(bytes, 0, enc, options).dataset;

describe('DataSet accessors', () => {
  it('splits text on backslashes and trims NUL/space padding at the end and spaces at the start', () => {
    const ds = parse(cat(el(0x00080060, 'CS', '  DX\\CR \0'), el(0x00100010, 'PN', ''), el(0x00081030, 'LO', 'x'.repeat(1025)), el(0x00081031, 'LO', 'y'.repeat(1024))));
    expect(ds.strings(0x00080060)).toEqual(['DX', 'CR']);
    expect(ds.string(0x00080060)).toBe('DX');
    expect(ds.strings(0x00100010)).toEqual(['']);
    expect(ds.string(0x00100010)).toBeUndefined();
    expect(ds.strings(0x00081030)).toEqual([]); // implausibly long: ignored
    expect(ds.strings(0x00081031)).toEqual(['y'.repeat(1024)]);
    expect(ds.strings(0x00200020)).toEqual([]);
    expect(ds.string(0x00200020)).toBeUndefined();
    expect(ds.has(0x00080060)).toBe(true);
    expect(ds.has(0x00200020)).toBe(false);
  });

  it('reads numbers from every binary VR in either byte order, and from DS/IS text', () => {
    for (const enc of [ELE, EBE]) {
      const le = enc.littleEndian;
      const f32 = new DataView(new ArrayBuffer(4));
      f32.setFloat32(0, 1.5, le);
      const f64 = new DataView(new ArrayBuffer(8));
      f64.setFloat64(0, -2.25, le);
      const ds = parse(
        cat(
          el(0x00280010, 'US', [...u16(512, le), ...u16(7, le)], enc),
          el(0x00281052, 'DS', ' -1024\\\\2.5 ', enc),
          el(0x00281053, 'IS', '12', enc),
          el(0x00281054, 'SS', u16(0xfffe, le), enc),
          el(0x00281055, 'UL', u32(0x89abcdef, le), enc),
          el(0x00281056, 'SL', u32(0xfffffffd, le), enc),
          el(0x00281057, 'FL', new Uint8Array(f32.buffer), enc),
          el(0x00281058, 'FD', new Uint8Array(f64.buffer), enc),
          el(0x00281059, 'US', [1, 2, 3], enc), // a trailing odd byte is not a value
          el(0x0028105a, 'DS', 'abc', enc),
        ),
        enc,
      );
      expect(ds.numbers(0x00280010)).toEqual([512, 7]);
      expect(ds.numbers(0x00281052)).toEqual([-1024, 2.5]);
      expect(ds.number(0x00281053)).toBe(12);
      expect(ds.number(0x00281054)).toBe(-2);
      expect(ds.number(0x00281055)).toBe(0x89abcdef);
      expect(ds.number(0x00281056)).toBe(-3);
      expect(ds.number(0x00281057)).toBe(1.5);
      expect(ds.number(0x00281058)).toBe(-2.25);
      expect(ds.numbers(0x00281059)).toEqual([le ? 0x0201 : 0x0102]);
      expect(ds.number(0x0028105a)).toBeUndefined(); // not a number
      expect(ds.number(0x0028105b)).toBeUndefined();
      expect(ds.numbers(0x0028105b)).toEqual([]);
    }
  });

  it('reads at most 64 values', () => {
    const ds = parse(el(0x00281201, 'US', Array.from({ length: 100 }, (_, i) => u16(i)).flat()));
    expect(ds.numbers(0x00281201)).toEqual(Array.from({ length: 64 }, (_, i) => i));
  });
});

describe('parseDataSet', () => {
  it('parses implicit VR little endian, taking VRs from the dictionary (unknown: UN)', () => {
    const ds = parse(cat(el(Tag.Rows, 'US', u16(300), ILE), el(0x00091001, 'UN', [1, 2], ILE)), ILE);
    expect(ds.number(Tag.Rows)).toBe(300);
    expect(ds.elements.get(Tag.Rows)!.vr).toBe('US');
    expect(ds.elements.get(0x00091001)!.vr).toBe('UN');
  });

  it('reads long VRs with a 32-bit length and the rest with 16 bits', () => {
    const ds = parse(cat(el(0x00091010, 'OB', [1, 2, 3, 4]), el(0x00091011, 'UT', 'text'), el(0x00091012, 'LO', 'lo')));
    expect([...ds.elements.get(0x00091010)!.value]).toEqual([1, 2, 3, 4]);
    expect(ds.string(0x00091011)).toBe('text');
    expect(ds.string(0x00091012)).toBe('lo');
  });

  it('ignores up to 7 bytes of zero padding at the end of a data set, not 8', () => {
    const body = el(Tag.Rows, 'US', u16(5));
    expect(parse(cat(body, new Array(7).fill(0))).number(Tag.Rows)).toBe(5);
    expectImageError(() => parse(cat(body, new Array(8).fill(0))), 'invalid', 'Corrupt DICOM: element (0000,0000) has no valid value representation.');
    expectImageError(() => parse(cat(body, [0, 0, 1])), 'invalid', 'The DICOM file is truncated (in an element tag).');
    expectImageError(() => parse(cat(body, [0, 0, 0, 1])), 'invalid', 'The DICOM file is truncated (in an element header).');
  });

  it('needs upper-case letters for a VR', () => {
    for (const vr of ['@A', 'A@', '[A', 'A[', 'us']) {
      expectImageError(() => parse(cat(tagBytes(0x00100010), ascii(vr), [0, 0])), 'invalid', 'Corrupt DICOM: element (0010,0010) has no valid value representation.');
    }
    expect(parse(cat(tagBytes(0x00100010), ascii('AZ'), [0, 0])).has(0x00100010)).toBe(true);
    expect(parse(cat(tagBytes(0x00100010), ascii('ZA'), [0, 0])).has(0x00100010)).toBe(true);
  });

  it('reports truncation where it happens', () => {
    expectImageError(() => parse(Uint8Array.from([0x10, 0])), 'invalid', 'The DICOM file is truncated (in an element tag).');
    expectImageError(() => parse(cat(tagBytes(0x00100010), ascii('P'))), 'invalid', 'The DICOM file is truncated (in an element header).');
    expectImageError(() => parse(cat(tagBytes(0x00100010), [1, 0]), ILE), 'invalid', 'The DICOM file is truncated (in an element length).');
    expectImageError(() => parse(cat(tagBytes(0x00091010), ascii('OB'), [0, 0, 1])), 'invalid', 'The DICOM file is truncated (in an element length).');
    expectImageError(() => parse(el(0x00100010, 'PN', 'ab', ELE, 100)), 'invalid', 'The DICOM file is truncated: element (0010,0010) declares 100 bytes, 2 remain.');
    expectImageError(() => parseDataSet(cat(el(0x00100010, 'PN', 'abcd')), 0, ELE, { end: 6 }), 'invalid', 'The DICOM file is truncated: element (0010,0010) declares 4 bytes, 0 remain.');
    expect(parse(el(0x00100010, 'PN', 'ab', ELE, 2)).string(0x00100010)).toBe('ab');
  });

  it('refuses delimiters and item tags where an element belongs', () => {
    expectImageError(() => parse(itemEnd()), 'invalid', 'Corrupt DICOM: an item delimiter outside any item.');
    expectImageError(() => parse(item(new Uint8Array(0))), 'invalid', 'Corrupt DICOM: an item tag (fffe,e000) where a data element was expected.');
    expectImageError(() => parse(seqEnd()), 'invalid', 'Corrupt DICOM: an item tag (fffe,e0dd) where a data element was expected.');
  });

  it('allows an undefined length only for sequences, UN and pixel data', () => {
    expectImageError(() => parse(el(0x00100010, 'UT', [], ELE, UNDEFINED)), 'invalid', 'Corrupt DICOM: element (0010,0010) (UT) has an undefined length.');
    expectImageError(() => parse(el(Tag.Rows, 'US', [], ILE, UNDEFINED), ILE), 'invalid', 'Corrupt DICOM: element (0028,0010) (US) has an undefined length.');
  });

  it('materialises the LUT sequences, walks past other sequences, in defined and undefined lengths', () => {
    const lutItem = el(0x00283003, 'LO', 'LUT'); // LUT Explanation
    const ds = parse(
      cat(
        el(Tag.VOILUTSequence, 'SQ', item(lutItem), ELE), // defined length
        el(Tag.ModalityLUTSequence, 'SQ', cat(item(lutItem, true, UNDEFINED), itemEnd(), seqEnd()), ELE, UNDEFINED),
        el(0x00081140, 'SQ', cat(item(el(0x00081150, 'UI', '1.2')), item(el(0x00081150, 'UI', '1.3'))), ELE),
        el(Tag.Rows, 'US', u16(9)),
      ),
    );
    expect(ds.sequence(Tag.VOILUTSequence).map((i) => i.string(0x00283003))).toEqual(['LUT']);
    expect(ds.sequence(Tag.ModalityLUTSequence).map((i) => i.string(0x00283003))).toEqual(['LUT']);
    expect(ds.elements.get(Tag.ModalityLUTSequence)!.vr).toBe('SQ');
    expect(ds.sequence(0x00081140)).toEqual([]); // walked past, not kept
    expect(ds.has(0x00081140)).toBe(true);
    expect(ds.sequence(0x00081199)).toEqual([]);
    expect(ds.number(Tag.Rows)).toBe(9); // parsing continued after each
  });

  it('reads an undefined-length UN as an implicit little endian sequence, whatever the data set\'s encoding', () => {
    const inner = el(0x00283003, 'LO', 'implicit', ILE);
    const le = parse(cat(el(Tag.VOILUTSequence, 'UN', cat(item(inner, true, UNDEFINED), itemEnd(), seqEnd()), EBE, UNDEFINED), el(Tag.Rows, 'US', u16(3, false), EBE)), EBE);
    expect(le.sequence(Tag.VOILUTSequence).map((i) => i.string(0x00283003))).toEqual(['implicit']);
    expect(le.number(Tag.Rows)).toBe(3);
    // Its items are little endian even in a big endian data set: big endian item tags are not items there.
    expectImageError(() => parse(cat(el(Tag.VOILUTSequence, 'UN', cat(item(inner, false, UNDEFINED)), EBE, UNDEFINED)), EBE), 'invalid', 'Corrupt DICOM: (feff,00e0) inside a sequence where an item was expected.');
  });

  it('refuses malformed sequences', () => {
    const seq = (content: Uint8Array, length?: number) => parse(el(Tag.VOILUTSequence, 'SQ', content, ELE, length));
    expectImageError(() => seq(seqEnd()), 'invalid', 'Corrupt DICOM: a sequence delimiter inside a sequence of defined length.');
    expectImageError(() => seq(el(0x00080016, 'UI', '1')), 'invalid', 'Corrupt DICOM: (0008,0016) inside a sequence where an item was expected.');
    expectImageError(() => seq(cat(item(el(0x00283003, 'LO', 'ab')).subarray(0, 8), u32(0)), undefined), 'invalid', /Corrupt DICOM|truncated/);
    expectImageError(() => parse(cat(el(Tag.VOILUTSequence, 'SQ', [], ELE, UNDEFINED), tagBytes(Tag.Item), u32(30), [1, 2])), 'invalid', 'The DICOM file is truncated (in a sequence item).');
    expectImageError(() => parse(cat(el(Tag.VOILUTSequence, 'SQ', [], ELE, UNDEFINED), item(el(0x00283003, 'LO', 'ab'), true, UNDEFINED))), 'invalid', 'The DICOM file is truncated (an item has no delimiter).');
    // An item whose declared length fits exactly.
    expect(seq(item(el(0x00283003, 'LO', 'ab'))).sequence(Tag.VOILUTSequence)).toHaveLength(1);
  });

  it('limits nesting to 16 sequences deep, UN sequences included', () => {
    const nested = (depth: number): Uint8Array => (depth === 0 ? el(0x00283003, 'LO', 'x') : el(Tag.VOILUTSequence, 'SQ', item(nested(depth - 1))));
    expect(() => parse(nested(16))).not.toThrow();
    expectImageError(() => parse(nested(17)), 'unsupported', 'DICOM sequences nested more than 16 deep are not supported.');
    // Undefined-length UN sequences (their content implicit VR little endian).
    const un = (depth: number, enc = ILE): Uint8Array =>
      depth === 0 ? el(0x00283003, 'LO', 'x', ILE) : el(0x00091010, 'UN', cat(item(un(depth - 1), true, UNDEFINED), itemEnd(), seqEnd()), enc, UNDEFINED);
    expect(() => parse(un(16, ELE))).not.toThrow();
    expectImageError(() => parse(un(17, ELE)), 'unsupported', 'DICOM sequences nested more than 16 deep are not supported.');
  });

  it('limits a file to 100,000 elements, items and fragments', () => {
    const one = el(0x00091010, 'LO', '');
    const many = (n: number) => {
      const out = new Uint8Array(n * one.length);
      for (let i = 0; i < n; i++) out.set(one, i * one.length);
      return out;
    };
    expect(() => parse(many(100_000))).not.toThrow();
    expectImageError(() => parse(many(100_001)), 'unsupported', 'DICOM data sets with more than 100000 elements are not supported.');
  });

  it('reads encapsulated pixel data as fragments and stops after top-level pixel data unless told not to', () => {
    const pixels = cat(el(Tag.PixelData, 'OB', [], ELE, UNDEFINED), item(new Uint8Array(0)), item(Uint8Array.from([1, 2, 3, 4])), seqEnd());
    const after = el(0x00100010, 'PN', 'after');
    const ds = parse(cat(pixels, after));
    expect(ds.elements.get(Tag.PixelData)!.fragments!.map((f) => [...f])).toEqual([[], [1, 2, 3, 4]]);
    expect(ds.has(0x00100010)).toBe(false);
    expect(parse(cat(pixels, after), ELE, { stopAfterPixelData: false }).string(0x00100010)).toBe('after');
    const native = cat(el(Tag.PixelData, 'OW', [1, 2]), after);
    expect(parse(native).has(0x00100010)).toBe(false);
    expect(parse(native, ELE, { stopAfterPixelData: false }).has(0x00100010)).toBe(true);
    // Inside a sequence item, pixel data (an icon) does not end the parse.
    const icon = el(Tag.VOILUTSequence, 'SQ', item(cat(el(Tag.PixelData, 'OW', [1, 2]), el(0x00283003, 'LO', 'x'))));
    const withIcon = parse(cat(icon, after));
    expect(withIcon.string(0x00100010)).toBe('after');
    expect(withIcon.sequence(Tag.VOILUTSequence)[0].string(0x00283003)).toBe('x');
    const iconEncapsulated = el(Tag.VOILUTSequence, 'SQ', cat(item(cat(pixels, el(0x00283003, 'LO', 'x')), true, UNDEFINED), itemEnd(), seqEnd()), ELE, UNDEFINED);
    expect(parse(cat(iconEncapsulated, after)).sequence(Tag.VOILUTSequence)[0].string(0x00283003)).toBe('x');
  });

  it('refuses malformed encapsulated pixel data', () => {
    const start = el(Tag.PixelData, 'OB', [], ELE, UNDEFINED);
    expectImageError(() => parse(cat(start, el(0x00100010, 'PN', 'x'))), 'invalid', 'Corrupt DICOM: encapsulated pixel data holds something other than items.');
    expectImageError(() => parse(cat(start, item(new Uint8Array(0), true, UNDEFINED))), 'invalid', 'The DICOM file is truncated (in the encapsulated pixel data).');
    expectImageError(() => parse(cat(start, tagBytes(Tag.Item), u32(5), [1, 2, 3, 4])), 'invalid', 'The DICOM file is truncated (in the encapsulated pixel data).');
    expect(parse(cat(start, tagBytes(Tag.Item), u32(4), [1, 2, 3, 4], seqEnd())).elements.get(Tag.PixelData)!.fragments).toHaveLength(1);
    // A fragment may end exactly at the end of the file; what is then missing is the delimiter.
    expectImageError(() => parse(cat(start, tagBytes(Tag.Item), u32(4), [1, 2, 3, 4])), 'invalid', 'The DICOM file is truncated (in an element tag).');
  });
});

/** A Part 10 file: preamble, DICM, a meta group naming `syntax`, then `body`. */
function part10(body: Uint8Array, syntax = '1.2.840.10008.1.2.1', extraMeta: Uint8Array = new Uint8Array(0)): Uint8Array {
  const uid = syntax.length % 2 ? `${syntax}\0` : syntax;
  const meta = cat(el(0x00020001, 'OB', [0, 1]), el(0x00020010, 'UI', uid), extraMeta);
  return cat(new Array(128).fill(0), ascii('DICM'), el(0x00020000, 'UL', u32(meta.length)), meta, body);
}
const bodyELE = cat(el(0x00080060, 'CS', 'DX'), el(Tag.Rows, 'US', u16(2)));

describe('readDicomFile', () => {
  it('recognises Part 10 files and bare data sets in each encoding, and nothing else', () => {
    expect(looksLikeDicom(part10(bodyELE))).toBe(true);
    expect(looksLikeDicom(cat(el(0x00080005, 'CS', 'ISO_IR 100')))).toBe(true); // bare, explicit LE, group 0008
    expect(looksLikeDicom(cat(el(0x00020010, 'UI', '1.2')))).toBe(true); // bare, starting with a meta group
    expect(looksLikeDicom(cat(el(0x00080005, 'CS', 'ISO_IR 100', EBE)))).toBe(true); // bare big endian
    expect(looksLikeDicom(cat(el(0x00100010, 'PN', 'x')))).toBe(false); // group 0010 first: not recognised
    expect(looksLikeDicom(Uint8Array.from([8, 0, 0xff, 0, 0, 0, 0, 0]))).toBe(false); // an FF after the group
    expect(looksLikeDicom(Uint8Array.from([8, 0, 5, 0, 0x43]))).toBe(false); // under 8 bytes
    expect(looksLikeDicom(Uint8Array.from([0, 8, 0, 5, 0x43, 0x53, 0, 0]))).toBe(true);
    expect(looksLikeDicom(Uint8Array.from([0, 8, 0, 5, 0x43, 0x73, 0, 0]))).toBe(false); // lower-case second VR letter
    expect(looksLikeDicom(Uint8Array.from([0, 8, 0, 5, 0x63, 0x53, 0, 0]))).toBe(false);
    expect(looksLikeDicom(Uint8Array.from([0, 9, 0, 5, 0x43, 0x53, 0, 0]))).toBe(false);
    expect(looksLikeDicom(Uint8Array.from([1, 8, 0, 5, 0x43, 0x53, 0, 0]))).toBe(false);
    const notQuite = part10(bodyELE);
    notQuite[131] = 0x4e; // "DICN"
    expect(looksLikeDicom(notQuite)).toBe(false);
    for (const i of [128, 129, 130]) {
      const broken = part10(bodyELE);
      broken[i] = 0x20;
      expect(looksLikeDicom(broken), String(i)).toBe(false);
    }
    expect(looksLikeDicom(part10(bodyELE).subarray(0, 131))).toBe(false);
    expect(looksLikeDicom(part10(bodyELE).subarray(0, 132))).toBe(true); // preamble and prefix alone
    expectImageError(() => readDicomFile(Uint8Array.from([1, 2, 3]), Infinity), 'invalid', 'The body is not DICOM: no "DICM" prefix after a 128-byte preamble, and no data set at the start.');
  });

  it('reads the transfer syntax from the meta group, and the encoding of a bare data set from its bytes', () => {
    expect(readDicomFile(part10(bodyELE), Infinity).transferSyntax.uid).toBe('1.2.840.10008.1.2.1');
    const implicit = cat(el(0x00080060, 'CS', 'DX', ILE), el(Tag.Rows, 'US', u16(2), ILE));
    expect(readDicomFile(part10(implicit, '1.2.840.10008.1.2'), Infinity).dataset.number(Tag.Rows)).toBe(2);
    const big = cat(el(0x00080060, 'CS', 'DX', EBE), el(Tag.Rows, 'US', u16(2, false), EBE));
    expect(readDicomFile(part10(big, '1.2.840.10008.1.2.2'), Infinity).dataset.number(Tag.Rows)).toBe(2);
    // Bare data sets.
    expect(readDicomFile(bodyELE, Infinity)).toMatchObject({ transferSyntax: { uid: '1.2.840.10008.1.2.1' } });
    expect(readDicomFile(big, Infinity).transferSyntax.uid).toBe('1.2.840.10008.1.2.2');
    expect(readDicomFile(implicit, Infinity).transferSyntax.uid).toBe('1.2.840.10008.1.2');
    expect(readDicomFile(implicit, Infinity).dataset.string(0x00080060)).toBe('DX');
    // The first element's VR letters decide: A and Z are letters; an implicit length whose low byte is "A" is not a VR.
    const ae = cat(el(0x00080054, 'AE', 'NODE'), el(Tag.Rows, 'US', u16(4)));
    expect(readDicomFile(ae, Infinity)).toMatchObject({ transferSyntax: { uid: '1.2.840.10008.1.2.1' } });
    expect(readDicomFile(ae, Infinity).dataset.number(Tag.Rows)).toBe(4);
    const za = cat(el(0x00089999, 'ZA', 'ab'), el(Tag.Rows, 'US', u16(4)));
    expect(readDicomFile(za, Infinity).dataset.number(Tag.Rows)).toBe(4);
    const implicit65 = cat(el(0x00080081, 'ST', 'x'.repeat(65), ILE), el(Tag.Rows, 'US', u16(4), ILE));
    expect(readDicomFile(implicit65, Infinity)).toMatchObject({ transferSyntax: { uid: '1.2.840.10008.1.2' } });
    expect(readDicomFile(implicit65, Infinity).dataset.number(Tag.Rows)).toBe(4);
    // A bare data set that starts with a meta group still has its syntax read from it.
    expect(readDicomFile(cat(el(0x00020010, 'UI', '1.2.840.10008.1.2\0'), implicit), Infinity).dataset.number(Tag.Rows)).toBe(2);
  });

  it('skips meta elements of long VRs by their 32-bit length', () => {
    const withLong = part10(bodyELE, '1.2.840.10008.1.2.1', cat(el(0x00020102, 'OB', [1, 2, 3, 4]), el(0x00020100, 'UI', '1.2\0')));
    expect(readDicomFile(withLong, Infinity).dataset.number(Tag.Rows)).toBe(2);
    for (const vr of ['OB', 'UN', 'OW', 'UT', 'SQ']) {
      // 300 bytes: read with a 16-bit length at the wrong place, this would send the parse astray.
      const file = part10(bodyELE, '1.2.840.10008.1.2.1', el(0x00020102, vr, vr === 'SQ' ? [] : new Array(300).fill(2)));
      expect(readDicomFile(file, Infinity).dataset.number(Tag.Rows), vr).toBe(2);
    }
    // Meta elements that end exactly at the end of the file belong to the meta group, not to the data set.
    const lastShort = part10(new Uint8Array(0), '1.2.840.10008.1.2.1', el(0x00020013, 'SH', ''));
    expect(readDicomFile(lastShort, Infinity).dataset.has(0x00020013)).toBe(false);
    const lastLong = part10(new Uint8Array(0), '1.2.840.10008.1.2.1', el(0x00020102, 'OB', []));
    expect(readDicomFile(lastLong, Infinity).dataset.has(0x00020102)).toBe(false);
  });

  it('refuses a meta group without a transfer syntax, an unknown one, and one that runs past the file', () => {
    const noSyntax = cat(new Array(128).fill(0), ascii('DICM'), el(0x00020001, 'OB', [0, 1]), bodyELE);
    expectImageError(() => readDicomFile(noSyntax, Infinity), 'invalid', 'Corrupt DICOM: the file meta group has no Transfer Syntax UID.');
    expectImageError(() => readDicomFile(part10(bodyELE, '1.2.3.4'), Infinity), 'unsupported', 'The DICOM transfer syntax 1.2.3.4 is not one this service knows.');
    expectImageError(() => readDicomFile(part10(bodyELE, 'hello'), Infinity), 'unsupported', 'The DICOM transfer syntax (not a valid UID) is not one this service knows.');
    const cut = cat(new Array(128).fill(0), ascii('DICM'), tagBytes(0x00020010), ascii('UI'), u16(40), ascii('1.2'));
    expectImageError(() => readDicomFile(cut, Infinity), 'invalid', 'The DICOM file is truncated (in the file meta group).');
    const cutLong = cat(new Array(128).fill(0), ascii('DICM'), tagBytes(0x00020001), ascii('OB'), [0, 0, 0]);
    expectImageError(() => readDicomFile(cutLong, Infinity), 'invalid', 'Corrupt DICOM: the file meta group has no Transfer Syntax UID.');
  });

  it('names the syntaxes it knows but does not decode', () => {
    expectImageError(() => readDicomFile(part10(bodyELE, '1.2.840.10008.1.2.4.90'), Infinity), 'unsupported', /^DICOM JPEG 2000 .*\(1\.2\.840\.10008\.1\.2\.4\.90\) is not supported: /);
  });

  it('inflates a deflated data set, within the budget', () => {
    const deflated = part10(new Uint8Array(deflateRawSync(bodyELE)), '1.2.840.10008.1.2.1.99');
    expect(readDicomFile(deflated, Infinity).dataset.number(Tag.Rows)).toBe(2);
    expect(readDicomFile(deflated, bodyELE.length).dataset.number(Tag.Rows)).toBe(2);
    expectImageError(() => readDicomFile(deflated, bodyELE.length - 1), 'too_large', `The deflated DICOM data set inflates to more than ${bodyELE.length - 1} bytes.`);
    expectImageError(() => readDicomFile(part10(Uint8Array.from([0xff, 0xff, 0xff, 0xff]), '1.2.840.10008.1.2.1.99'), Infinity), 'invalid', 'Corrupt DICOM: the deflated data set could not be inflated.');
  });
});

describe('transfer syntaxes', () => {
  it('finds syntaxes by UID, and quotes a UID only when it is digits and dots, 64 at most', () => {
    expect(transferSyntax('1.2.840.10008.1.2.5')).toMatchObject({ uid: '1.2.840.10008.1.2.5', littleEndian: true, explicitVR: true });
    expect(transferSyntax('1.2.840.10008.1.2.5 ')).toBeUndefined();
    expect(printableUid('1.2.3')).toBe('1.2.3');
    expect(printableUid('1'.repeat(64))).toBe('1'.repeat(64));
    expect(printableUid('1'.repeat(65))).toBeNull();
    expect(printableUid('')).toBeNull();
    expect(printableUid('1.2.x')).toBeNull();
    expect(printableUid('x1.2')).toBeNull();
    expect(printableUid('Smith^John')).toBeNull();
  });
});

describe('checkChestHeader', () => {
  const header = (modality?: string, view?: string, body?: string) =>
    parse(cat(...[modality !== undefined ? el(Tag.Modality, 'CS', modality) : null, body !== undefined ? el(Tag.BodyPartExamined, 'CS', body) : null, view !== undefined ? el(Tag.ViewPosition, 'CS', view) : null].filter((x): x is Uint8Array => x !== null)));
  const refusal = (ds: ReturnType<typeof header>) => {
    try {
      checkChestHeader(ds);
    } catch (error) {
      return { kind: (error as ImageError).kind, reason: (error as ImageError).reason, message: (error as ImageError).message };
    }
    return null;
  };

  it('accepts projection radiographs of the chest, and headers that say nothing', () => {
    for (const m of ['CR', 'DX', 'dr', 'RG', 'OT', 'SC']) expect(refusal(header(m, 'PA', 'CHEST')), m).toBeNull();
    for (const b of ['chest', 'THORAX', 'LUNG', 'PORT CHEST', 'TORSO', 'CHESTABDOMEN', 'CHEST_ABDOMEN', 'CHESTABDPELVIS']) expect(refusal(header('DX', 'AP', b)), b).toBeNull();
    expect(refusal(header())).toBeNull();
    expect(refusal(header('', '', ''))).toBeNull();
  });

  it('refuses other modalities, naming the known ones', () => {
    expect(refusal(header('ct'))).toEqual({
      kind: 'not_a_chest_xray',
      reason: 'dicom_modality',
      message: 'The DICOM header says this is not a projection radiograph: CT images are not chest X-rays (accepted modalities: CR, DX, and OT/SC secondary captures).',
    });
    expect(refusal(header('XYZ'))?.message).toBe('The DICOM header says this is not a projection radiograph: This modality is not chest X-rays (accepted modalities: CR, DX, and OT/SC secondary captures).');
  });

  it('refuses lateral views and other body parts', () => {
    for (const v of ['LL', 'rl', 'LATERAL', 'LAT', 'LLAT', 'RLAT']) {
      expect(refusal(header('DX', v))).toEqual({ kind: 'not_a_chest_xray', reason: 'dicom_view_position', message: `The DICOM header says this is a lateral view (${v.toUpperCase()}); the model reads frontal (PA or AP) chest films.` });
    }
    expect(refusal(header('DX', 'PA', 'HAND'))).toEqual({ kind: 'not_a_chest_xray', reason: 'dicom_body_part', message: 'The DICOM header says the body part examined is not the chest.' });
  });
});

describe('readPixelModule', () => {
  const module = (fields: Record<string, number | string | undefined>) => {
    const elements: Uint8Array[] = [];
    const add = (tag: number, vr: string, v: number | string | undefined) => {
      if (v === undefined) return;
      elements.push(typeof v === 'string' ? el(tag, vr, v) : el(tag, vr, u16(v)));
    };
    add(Tag.SamplesPerPixel, 'US', fields.samples);
    add(Tag.PhotometricInterpretation, 'CS', fields.photometric);
    add(Tag.NumberOfFrames, 'IS', fields.frames);
    add(Tag.Rows, 'US', fields.rows);
    add(Tag.Columns, 'US', fields.columns);
    add(Tag.PlanarConfiguration, 'US', fields.planar);
    add(Tag.BitsAllocated, 'US', fields.allocated);
    add(Tag.BitsStored, 'US', fields.stored);
    add(Tag.HighBit, 'US', fields.high);
    add(Tag.PixelRepresentation, 'US', fields.signed);
    return () => readPixelModule(parse(cat(...elements)));
  };
  const base = { rows: 4, columns: 3, allocated: 16, stored: 12 };

  it('reads a monochrome module with its defaults', () => {
    expect(module(base)()).toEqual({ rows: 4, columns: 3, samplesPerPixel: 1, photometric: 'MONOCHROME2', planarConfiguration: 0, frames: 1, bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: false });
    expect(module({ ...base, photometric: 'monochrome1', signed: 1, high: 15, frames: '3', planar: 1 })()).toMatchObject({ photometric: 'MONOCHROME1', signed: true, highBit: 15, frames: 3, planarConfiguration: 1 });
    expect(module({ rows: 1, columns: 65535, allocated: 8 })()).toMatchObject({ bitsStored: 8, highBit: 7 });
    expect(module({ ...base, samples: 3, allocated: 8, stored: 8 })()).toMatchObject({ photometric: 'RGB', samplesPerPixel: 3 });
    expect(module({ ...base, samples: 3, allocated: 8, stored: 8, photometric: 'YBR_FULL' })()).toMatchObject({ photometric: 'YBR_FULL' });
  });

  it('needs whole-number sides from 1 to 65535', () => {
    const msg = 'The DICOM file has no valid image size (Rows and Columns: whole numbers 1..65535).';
    for (const size of [{ rows: 0 }, { columns: 0 }, { rows: undefined }, { columns: undefined }, { rows: '2.5' }]) {
      const fields = { ...base, ...size } as Record<string, number | string | undefined>;
      if (typeof fields.rows === 'string') {
        const ds = parse(cat(el(Tag.Rows, 'DS', fields.rows), el(Tag.Columns, 'US', u16(3)), el(Tag.BitsAllocated, 'US', u16(8))));
        expectImageError(() => readPixelModule(ds), 'invalid', msg);
      } else expectImageError(module(fields), 'invalid', msg);
    }
    const big = parse(cat(el(Tag.Rows, 'UL', u32(65536)), el(Tag.Columns, 'US', u16(3)), el(Tag.BitsAllocated, 'US', u16(8))));
    expectImageError(() => readPixelModule(big), 'invalid', msg);
  });

  it('refuses photometric interpretations it does not render, naming the known ones', () => {
    expectImageError(module({ ...base, photometric: 'PALETTE COLOR' }), 'unsupported', 'DICOM images with photometric interpretation PALETTE COLOR are not supported; send MONOCHROME1, MONOCHROME2 or RGB.');
    expectImageError(module({ ...base, photometric: 'WHATEVER' }), 'unsupported', 'The DICOM photometric interpretation is not one this service knows; send MONOCHROME1, MONOCHROME2 or RGB.');
    expectImageError(module({ ...base, samples: 3, photometric: 'MONOCHROME2' }), 'invalid', 'Corrupt DICOM: MONOCHROME2 needs 1 samples per pixel, the header says 3.');
    expectImageError(module({ ...base, samples: 1, photometric: 'RGB', allocated: 8, stored: 8 }), 'invalid', 'Corrupt DICOM: RGB needs 3 samples per pixel, the header says 1.');
  });

  it('needs 8 or 16 bits allocated, and stored bits and high bit that fit', () => {
    expectImageError(module({ rows: 4, columns: 3 }), 'invalid', 'The DICOM file has no Bits Allocated.');
    expectImageError(module({ ...base, allocated: 32 }), 'unsupported', 'DICOM pixels of 32 bits allocated are not supported; send 8 or 16.');
    expectImageError(module({ ...base, allocated: 1, stored: 1 }), 'unsupported', 'DICOM pixels of 1 bits allocated are not supported; send 8 or 16.');
    const fit = (stored: number, high: number) => `Corrupt DICOM: ${stored} bits stored with high bit ${high} do not fit 16 bits allocated.`;
    expectImageError(module({ ...base, stored: 0, high: 0 }), 'invalid', fit(0, 0));
    expectImageError(module({ ...base, stored: 17, high: 16 }), 'invalid', fit(17, 16));
    expectImageError(module({ ...base, stored: 12, high: 10 }), 'invalid', fit(12, 10));
    expectImageError(module({ ...base, stored: 12, high: 16 }), 'invalid', fit(12, 16));
    expect(module({ ...base, stored: 16, high: 15 })()).toMatchObject({ bitsStored: 16 });
    expect(module({ ...base, stored: 1, high: 0 })()).toMatchObject({ bitsStored: 1 });
    expectImageError(module({ ...base, samples: 3, photometric: 'RGB' }), 'unsupported', 'DICOM colour images with more than 8 bits a sample are not supported.');
  });

  it('refuses a fractional Bits Stored (a DS where US belongs)', () => {
    const ds = parse(cat(el(Tag.Rows, 'US', u16(4)), el(Tag.Columns, 'US', u16(3)), el(Tag.BitsAllocated, 'US', u16(16)), el(Tag.BitsStored, 'DS', '12.5')));
    expectImageError(() => readPixelModule(ds), 'invalid', 'Corrupt DICOM: 12.5 bits stored with high bit 11.5 do not fit 16 bits allocated.');
  });

  it('needs a whole, positive number of frames', () => {
    for (const frames of ['0', '-1', '1.5']) expectImageError(module({ ...base, frames }), 'invalid', 'Corrupt DICOM: invalid Number of Frames.');
  });
});
