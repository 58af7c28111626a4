/**
 * One real chest X-ray (the accepted grey JPEG of xray-variants.ts) as DICOM in every transfer syntax and
 * pixel layout the Worker reads, plus the files it must refuse and the privacy probes. Built in Node by
 * global-setup with dcmtk and gdcm, in memory: nothing derived from ../shared is written to the repository.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { deflateRawSync } from 'node:zlib';
import { decodeJpegLuma } from '../../src/image/decode';
import { ensurePythonEnv } from '../../scripts/export/python-env';
import { convert, encodeElements, jpegToDicom, nativeRadiograph, part10, type TestElement } from '../helpers/dicom';

/** Text elements a real header carries about the patient, the study and the site. */
const IDENTIFYING: [number, string][] = [
  [0x00080020, 'DA'], [0x00080030, 'TM'], [0x00080050, 'SH'], [0x00080080, 'LO'], [0x00080081, 'ST'], [0x00080090, 'PN'],
  [0x00081010, 'SH'], [0x00081030, 'LO'], [0x0008103e, 'LO'], [0x00081070, 'PN'], [0x00080070, 'LO'], [0x00100010, 'PN'],
  [0x00100020, 'LO'], [0x00100030, 'DA'], [0x00100040, 'CS'], [0x00101000, 'LO'], [0x00101010, 'AS'], [0x00101040, 'LO'],
  [0x001021b0, 'LT'], [0x00104000, 'LT'], [0x00181000, 'LO'], [0x00181030, 'LO'], [0x00200010, 'SH'], [0x00204000, 'LT'],
];
/** Technical text elements: markers here make the header unreadable or refused, which must not leak either. */
const TECHNICAL: [number, string][] = [
  [0x00080060, 'CS'], [0x00180015, 'CS'], [0x00185101, 'CS'], [0x00281050, 'DS'], [0x00281051, 'DS'], [0x00281056, 'CS'],
];

export interface DicomFixtures {
  /** name -> DICOM bytes (base64) */
  files: Record<string, string>;
  /** Markers placed in the privacy probes' text elements. */
  markers: string[];
  /** pydicom's own test files, name -> bytes (base64). */
  pydicom: Record<string, string>;
}

/** Builds every DICOM fixture from the grey baseline JPEG of a real X-ray. */
export function dicomVariants(greyJpeg: Uint8Array): DicomFixtures {
  const { luma } = decodeJpegLuma(greyJpeg, { maxPixels: 1e8 });
  const { width, height, data } = luma;
  const eight = (extra: TestElement[] = [], samples: Uint8Array = data, photometric = 'MONOCHROME2') =>
    nativeRadiograph({ width, height, samples, bitsAllocated: 8, bitsStored: 8, photometric, extra });
  const native8 = eight();
  // 12 bits: each grey level spread over 16 stored values, with a window that maps them back to 0..255.
  const twelve = new Uint16Array(data.length).map((_, i) => data[i] * 16 + ((i * 5) % 16));
  const window12 = [
    { tag: 0x00281050, vr: 'DS', value: '2048' },
    { tag: 0x00281051, vr: 'DS', value: '4096' },
  ];
  const windowed12 = nativeRadiograph({ width, height, samples: twelve, bitsAllocated: 16, bitsStored: 12, extra: window12 });
  const twoFrames = new Uint8Array(data.length * 2);
  twoFrames.set(data);
  twoFrames.fill(255, data.length);
  const multi = nativeRadiograph({ width, height, samples: twoFrames, bitsAllocated: 8, bitsStored: 8, frames: 2 });

  const markers: string[] = [];
  const marker = () => {
    const m = `ZQX${String(markers.length).padStart(3, '0')}MARK`;
    markers.push(m);
    return m;
  };
  const markedIdentifying = () => IDENTIFYING.map(([tag, vr]): TestElement => ({ tag, vr, value: marker() }));
  const privacyAccepted = eight(markedIdentifying());
  const privacyRefused = eight([...markedIdentifying(), ...TECHNICAL.map(([tag, vr]): TestElement => ({ tag, vr, value: marker() }))]);
  const privacyLateral = eight([...markedIdentifying(), { tag: 0x00185101, vr: 'CS', value: 'LL' }]);
  const privacyTruncatedFull = eight(markedIdentifying());
  const privacyTruncated = privacyTruncatedFull.subarray(0, privacyTruncatedFull.length - 5000);

  const bombBody = encodeElements([{ tag: 0x00091010, vr: 'OB', value: new Uint8Array(80 * 2 ** 20) }]);
  const files: Record<string, Uint8Array> = {
    img2dcm: jpegToDicom(greyJpeg),
    native8,
    implicit8: convert('dcmconv', ['+ti'], native8),
    bigEndian8: convert('dcmconv', ['+tb'], native8),
    deflated8: convert('dcmconv', ['+td'], native8),
    rle8: convert('dcmcrle', [], native8),
    lossless8: convert('dcmcjpeg', ['+e1'], native8),
    monochrome1: eight([], data.map((v) => 255 - v), 'MONOCHROME1'),
    windowed12,
    lossless12: convert('dcmcjpeg', ['+el', '+sv', '6'], windowed12),
    rle12: convert('dcmcrle', [], windowed12),
    multiframe: multi,
    ct: eight([{ tag: 0x00080060, vr: 'CS', value: 'CT' }]),
    lateral: eight([{ tag: 0x00185101, vr: 'CS', value: 'LL' }]),
    jpegLs: convert('dcmcjpls', [], native8),
    jpeg2000: convert('gdcmconv', ['--j2k'], native8),
    deflateBomb: part10(new Uint8Array(deflateRawSync(bombBody, { level: 9 })), '1.2.840.10008.1.2.1.99'),
    noPixelData: part10(encodeElements([{ tag: 0x00080060, vr: 'CS', value: 'DX' }])),
    truncated: native8.subarray(0, native8.length - 2000),
    privacyAccepted,
    privacyRefused,
    privacyLateral,
    privacyTruncated,
  };
  const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  return { files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, base64(v)])), markers, pydicom: pydicomTestFiles() };
}

/** pydicom's test files (CT, MR, RT, SR, colour, truncated, odd encodings), as the installed wheel ships them. */
function pydicomTestFiles(): Record<string, string> {
  const python = ensurePythonEnv(() => {});
  const run = spawnSync(python, ['-c', 'import os, pydicom.data; print(os.path.join(os.path.dirname(pydicom.data.__file__), "test_files"))'], { encoding: 'utf8' });
  const dir = run.stdout.trim();
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name.endsWith('.dcm') && statSync(path).isFile() && statSync(path).size < 4 * 2 ** 20) out[name] = readFileSync(path).toString('base64');
  }
  return out;
}
