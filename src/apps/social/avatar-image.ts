import { createHash } from 'node:crypto';
import sharp, { type Metadata } from 'sharp';
import { TandemError } from 'tandem/server';
import { socialErrors } from './errors';

// Every upload is a different picture: libvips' operation cache would only hold memory.
sharp.cache(false);

/** The Content-Types an avatar upload may have, and the format sharp must find in the bytes. */
export const AVATAR_TYPES = { 'image/jpeg': 'jpeg', 'image/png': 'png', 'image/webp': 'webp' } as const;
export type AvatarType = keyof typeof AVATAR_TYPES;

/** The largest upload, bytes (413 payload_too_large beyond). */
export const AVATAR_MAX_BYTES = 5 * 1024 * 1024;
/** The side of the square every avatar becomes, pixels. */
const AVATAR_SIZE = 256;
/**
 * The most pixels an upload may declare: a phone photo is 12-50 MP; a "decompression bomb" (a
 * few kilobytes declaring 30000×30000) is refused from its header, before anything is decoded.
 */
const MAX_PIXELS = 40_000_000;
const MAX_SIDE = 10_000;

/**
 * Decoding a large photo takes tens of milliseconds of CPU and tens of megabytes: at most two at
 * once per process, a few more waiting, and beyond that 503 with Retry-After (a flood of uploads
 * must not starve the requests everyone else makes).
 */
const MAX_RUNNING = 2;
const MAX_WAITING = 8;
let running = 0;
const waiting: Array<() => void> = [];

async function withDecodeSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_RUNNING) {
    if (waiting.length >= MAX_WAITING) throw new TandemError('unavailable', 'Too many pictures are being processed; try again shortly', { headers: { 'retry-after': '2' } });
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else {
    running += 1;
  }
  try {
    return await work();
  } finally {
    // The slot passes straight to the next in line, or is freed.
    const next = waiting.shift();
    if (next === undefined) running -= 1;
    else next();
  }
}

export interface ProcessedAvatar {
  /** The content hash (sha256 of the WebP, hex, first 32 digits): the avatar's id and URL. */
  hash: string;
  bytes: Buffer;
}

/**
 * Turns an upload into the stored avatar: checks the declared type against the bytes, refuses
 * too many pixels from the header (and sharp's `limitInputPixels` again while decoding), turns it
 * upright by its EXIF orientation, crops it to a 256×256 square and re-encodes it as WebP. Nothing
 * of the upload's metadata survives (EXIF, GPS, ICC, XMP, comments): sharp writes none unless asked.
 * Throws image_unreadable or image_too_large (both 422).
 */
export function processAvatar(upload: Buffer, type: AvatarType): Promise<ProcessedAvatar> {
  return withDecodeSlot(() => decodeAvatar(upload, type));
}

async function decodeAvatar(upload: Buffer, type: AvatarType): Promise<ProcessedAvatar> {
  const options = { limitInputPixels: MAX_PIXELS, failOn: 'warning', sequentialRead: true } as const;
  let metadata: Metadata;
  try {
    // The header only (no pixel is decoded here), so the limit is checked below with a clear answer.
    metadata = await sharp(upload, { ...options, limitInputPixels: false }).metadata();
  } catch {
    throw socialErrors.error('image_unreadable', 'These bytes are not an image sharp can read');
  }
  if (metadata.format !== AVATAR_TYPES[type]) {
    throw socialErrors.error('image_unreadable', `The Content-Type says ${type}, but the bytes are ${metadata.format ?? 'no known format'}`);
  }
  const { width = 0, height = 0 } = metadata;
  if (width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS) {
    throw socialErrors.error('image_too_large', `The image is ${width}×${height} pixels`);
  }
  let bytes: Buffer;
  try {
    bytes = await sharp(upload, options)
      .rotate()
      .resize(AVATAR_SIZE, AVATAR_SIZE, { fit: 'cover', position: 'attention' })
      .webp({ quality: 82, effort: 4 })
      .toBuffer();
  } catch (error) {
    // A truncated or corrupt body passes the header check and fails here.
    if (error instanceof Error && /pixel limit/i.test(error.message)) throw socialErrors.error('image_too_large', error.message);
    throw socialErrors.error('image_unreadable', 'The image is damaged or truncated');
  }
  return { hash: avatarHash(bytes), bytes };
}

export function avatarHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

/** The parts of an initials avatar's file name, `<INITIALS>-<hue>.svg`, once checked; undefined if it names none. */
export function parseInitialsFile(file: string): { initials: string; hue: number } | undefined {
  const match = /^(.+)-(0|[1-9]\d{0,2})\.svg$/su.exec(file);
  if (match === null) return undefined;
  const initials = match[1]!;
  const hue = Number(match[2]);
  const graphemes = [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(initials)].length;
  if (hue > 359 || graphemes < 1 || graphemes > 3 || initials.length > 24 || /[\p{Cc}\p{Co}\p{Cn}\p{Cs}\s\u202A-\u202E\u2066-\u2069]/u.test(initials)) return undefined;
  return { initials, hue };
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** The generated avatar: the initials (escaped as XML text) on a circle of the given hue. */
export function initialsSvg(initials: string, hue: number): string {
  const text = initials.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
  const size = [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(initials)].length > 2 ? 34 : 42;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="100" height="100" role="img">`
    + `<rect width="100" height="100" rx="50" fill="hsl(${hue}, 45%, 42%)"/>`
    + `<text x="50" y="50" dy=".35em" text-anchor="middle" fill="#fff" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="${size}" font-weight="600">${text}</text>`
    + `</svg>`;
}
