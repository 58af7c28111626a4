// jpeg-js ships no types for its entries: the encoder draws /v1/explain's JPEG overlay, the decoder is the tests' oracle.
declare module 'jpeg-js/lib/decoder.js' {
  interface DecodeOptions {
    useTArray?: boolean;
    formatAsRGBA?: boolean;
    colorTransform?: boolean;
    tolerantDecoding?: boolean;
    maxResolutionInMP?: number;
    maxMemoryUsageInMB?: number;
  }
  export default function decode(
    data: Uint8Array | ArrayBuffer,
    options?: DecodeOptions,
  ): { width: number; height: number; data: Uint8Array };
}
declare module 'jpeg-js/lib/encoder.js' {
  export default function encode(
    image: { data: Uint8Array; width: number; height: number },
    quality?: number,
  ): { data: Uint8Array; width: number; height: number };
}
