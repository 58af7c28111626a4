/**
 * Generated images that are plainly not chest X-rays, for the gate tests (built in Node by global-setup;
 * nothing here is committed as an image). Each is a 3-component baseline JPEG from jpeg-js.
 */
import { encode } from 'jpeg-js';
import { makeRgba } from '../helpers/synthetic';

/** A small deterministic generator (the tests must send the same bytes on every run). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function jpeg(width: number, height: number, grey: (x: number, y: number) => number, rgb?: (x: number, y: number) => [number, number, number]): Uint8Array {
  return new Uint8Array(encode({ width, height, data: makeRgba(width, height, grey, rgb) }, 90).data);
}

/** A page of "text": lines of dark word-strokes of random length on white, with margins. */
function documentPage(x: number, y: number, random: () => number, words: Map<number, [number, number][]>): number {
  const line = Math.floor((y - 60) / 28);
  if (y < 60 || y > 740 || (y - 60) % 28 > 10) return 250;
  if (!words.has(line)) {
    const spans: [number, number][] = [];
    for (let at = 50; at < 550; ) {
      const length = 20 + Math.floor(random() * 70);
      spans.push([at, Math.min(550, at + length)]);
      at += length + 10 + Math.floor(random() * 8);
    }
    words.set(line, spans);
  }
  return words.get(line)!.some(([a, b]) => x >= a && x < b) ? 25 : 250;
}

/** Name -> JPEG bytes of every generated negative. */
export function generatedNegatives(): Record<string, Uint8Array> {
  const noise = lcg(11);
  const page = lcg(5);
  const words = new Map<number, [number, number][]>();
  return {
    'all-black': jpeg(512, 512, () => 0),
    'flat-grey': jpeg(512, 512, () => 128),
    'colour-gradient': jpeg(640, 480, () => 0, (x, y) => [Math.round((255 * x) / 639), Math.round((255 * y) / 479), Math.round(255 - (255 * x) / 639)]),
    noise: jpeg(512, 512, () => Math.floor(noise() * 256)),
    document: jpeg(600, 800, (x, y) => documentPage(x, y, page, words)),
  };
}

/** Pixel (x, y) of a `size` page: a toolbar of buttons along the top, the film shrunk to 60 % below it, light grey around. */
function framedOnPage(film: Uint8Array, size: number, x: number, y: number): number {
  const bar = Math.round(size * 0.08);
  if (y < bar) return x % 40 < 28 && y > bar * 0.25 && y < bar * 0.75 ? 250 : 70;
  const side = Math.round(size * 0.6);
  const [x0, y0] = [Math.round((size - side) / 2), bar + Math.round((size - bar - side) / 2)];
  if (x < x0 || x >= x0 + side || y < y0 || y >= y0 + side) return 232;
  return film[Math.floor(((y - y0) * size) / side) * size + Math.floor(((x - x0) * size) / side)];
}

/**
 * Real chest films sent the wrong way, as users do by mistake: each film turned upside down, a quarter turn, with
 * inverted grey levels, and shown at 60 % of a light page under a toolbar (a screenshot of a viewer or a web page);
 * and four films of different classes tiled 2x2 (as a screenshot of a viewer would).
 * `films` are square luminance images of side `size` (the Worker's own preprocessing of real X-rays, made in
 * global-setup from ../shared; nothing is written anywhere).
 */
export function wrongWayChestXrays(films: { name: string; pixels: Uint8Array }[], size: number): Record<string, Uint8Array> {
  const square = (grey: (x: number, y: number) => number) => jpeg(size, size, grey);
  const out: Record<string, Uint8Array> = {};
  for (const { name, pixels } of films) {
    out[`${name}, upside down`] = square((x, y) => pixels[(size - 1 - y) * size + x]);
    out[`${name}, a quarter turn`] = square((x, y) => pixels[x * size + (size - 1 - y)]);
    out[`${name}, inverted`] = square((x, y) => 255 - pixels[y * size + x]);
    out[`${name}, framed on a light page`] = square((x, y) => framedOnPage(pixels, size, x, y));
  }
  const half = size / 2;
  for (let first = 0; first < films.length && films.length >= 4; first++) {
    const four = [0, 1, 2, 3].map((k) => films[(first + k) % films.length]);
    out[`2x2 grid of ${four.map((f) => f.name).join(', ')}`] = square((x, y) => {
      const tile = four[(y >= half ? 2 : 0) + (x >= half ? 1 : 0)].pixels;
      return tile[((y % half) * 2) * size + (x % half) * 2];
    });
  }
  return out;
}
