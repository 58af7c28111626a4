/**
 * Applies an EXIF orientation (1..8) to a single-channel image so that it is shown upright.
 * Orientations 5..8 swap width and height.
 */
export function applyOrientation(
  data: Uint8Array,
  width: number,
  height: number,
  orientation: number,
): { data: Uint8Array; width: number; height: number } {
  if (orientation < 2 || orientation > 8) return { data, width, height };
  const swap = orientation >= 5;
  const outWidth = swap ? height : width;
  const outHeight = swap ? width : height;
  const out = new Uint8Array(data.length);
  // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
  for (let dy = 0; dy < outHeight; dy++) {
    // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
    for (let dx = 0; dx < outWidth; dx++) {
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2: sx = width - 1 - dx; sy = dy; break;
        case 3: sx = width - 1 - dx; sy = height - 1 - dy; break;
        case 4: sx = dx; sy = height - 1 - dy; break;
        case 5: sx = dy; sy = dx; break;
        case 6: sx = dy; sy = height - 1 - dx; break;
        case 7: sx = width - 1 - dy; sy = height - 1 - dx; break;
        default: sx = width - 1 - dy; sy = dx; break; // 8
      }
      out[dy * outWidth + dx] = data[sy * width + sx];
    }
  }
  return { data: out, width: outWidth, height: outHeight };
}
