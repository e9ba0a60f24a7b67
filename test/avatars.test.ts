import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';

interface PublicUser { id: number; username: string; displayName: string; bio: string; avatarUrl: string; createdAt: string; version: number }

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

/** A JPEG photo, 600×400 in a random colour, with EXIF (GPS, a camera, a hostile comment) and an ICC profile, stored rotated (orientation 6). */
async function photoWithMetadata(): Promise<Buffer> {
  // A colour of its own each time: the same picture uploaded by two users is one stored avatar.
  const background = { r: Math.floor(Math.random() * 256), g: Math.floor(Math.random() * 256), b: Math.floor(Math.random() * 256) };
  // Its left half is pure red: stored rotated (orientation 6), that half is the top once upright.
  const red = await sharp({ create: { width: 300, height: 400, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
  const sideways = await sharp({ create: { width: 600, height: 400, channels: 3, background } }).composite([{ input: red, left: 0, top: 0 }]).png().toBuffer();
  return sharp(sideways)
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExif({
      IFD0: { Make: 'HostileCam', Model: '<script>alert(1)</script>', ImageDescription: `${'A'.repeat(20_000)}<img src=x onerror=alert(1)>` },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 24/1', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 3/1' },
    })
    .withIccProfile('p3')
    .withXmp(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description>XmpSecret ${'B'.repeat(10_000)}</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>`)
    .toBuffer();
}

/**
 * A decompression bomb: a valid 1-bit PNG that declares 30000×30000 pixels (900 megapixels; 112 MB
 * of pixel data, or 3.6 GB as RGBA) in about 110 KB of zlib-compressed zeros.
 */
function pngBomb(side = 30_000): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // greyscale
  const rows = Buffer.alloc((1 + Math.ceil(side / 8)) * side); // every row: filter 0, all pixels 0
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

function upload(user: TestUser, body: Buffer | string, type: string | undefined): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${user.accessToken}` };
  if (type !== undefined) headers['content-type'] = type;
  return fetch(`${server.url}/api/me/avatar`, { method: 'PUT', headers, body: typeof body === 'string' ? body : new Uint8Array(body) });
}

async function me(user: TestUser): Promise<PublicUser> {
  return (await (await server.request('/api/me', { token: user.accessToken })).json()) as PublicUser;
}

async function avatarCount(): Promise<number> {
  const row = await server.social.db.selectFrom('avatars').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('avatar upload', () => {
  it('turns a photo upright, crops it to a 256×256 WebP and strips every piece of metadata', async () => {
    const user = await registerUser(server);
    const before = await me(user);
    const photo = await photoWithMetadata();
    // The upload really carries all of it.
    const input = await sharp(photo).metadata();
    expect(input.exif).toBeDefined();
    expect(input.icc).toBeDefined();
    expect(input.xmp).toBeDefined();
    expect(input.orientation).toBe(6);
    const res = await upload(user, photo, 'image/jpeg');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const after = (await res.json()) as PublicUser;
    expect(after.avatarUrl).toMatch(/^\/api\/avatars\/[0-9a-f]{32}\.webp$/);
    expect(after.version).toBe(before.version + 1);
    expect(res.headers.get('etag')).toBe(`"user.${user.id}.v${after.version}"`);

    const image = await fetch(server.url + after.avatarUrl);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/webp');
    expect(image.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(image.headers.get('x-content-type-options')).toBe('nosniff');
    const hash = after.avatarUrl.slice('/api/avatars/'.length, -'.webp'.length);
    expect(image.headers.get('etag')).toBe(`"${hash}"`);
    const bytes = Buffer.from(await image.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: 256, height: 256 });
    expect(meta.exif).toBeUndefined();
    expect(meta.icc).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    // Upright: the red half, which EXIF says is the top, is at the top.
    const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const pixel = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    const [r0, g0, b0] = pixel(128, 4);
    expect(r0).toBeGreaterThan(200);
    expect(g0! + b0!).toBeLessThan(80);
    expect(pixel(128, 251)).not.toEqual(pixel(128, 4));
    for (const needle of ['HostileCam', 'script', 'onerror', 'GPS', 'Exif', 'XmpSecret', 'xmpmeta']) expect(bytes.includes(needle)).toBe(false);

    // Revalidation costs nothing; the bytes never change under this URL.
    const again = await fetch(server.url + after.avatarUrl, { headers: { 'if-none-match': `"${hash}"` } });
    expect(again.status).toBe(304);
    expect(again.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await me(user)).avatarUrl).toBe(after.avatarUrl);
  });

  it('accepts PNG and WebP; the same picture twice is one stored avatar and no new version', async () => {
    const user = await registerUser(server);
    const png = await sharp({ create: { width: 300, height: 900, channels: 4, background: '#3366ff80' } }).png().toBuffer();
    const first = (await (await upload(user, png, 'image/png')).json()) as PublicUser;
    const second = await upload(user, png, 'image/png');
    expect(second.status).toBe(200);
    expect(((await second.json()) as PublicUser)).toMatchObject({ avatarUrl: first.avatarUrl, version: first.version });
    const webp = await sharp({ create: { width: 64, height: 64, channels: 3, background: 'green' } }).webp().toBuffer();
    const third = await upload(user, webp, 'image/webp; charset=binary');
    expect(third.status).toBe(200);
    expect(((await third.json()) as PublicUser).avatarUrl).not.toBe(first.avatarUrl);
    // The replaced picture nobody uses any more is gone.
    expect((await fetch(server.url + first.avatarUrl)).status).toBe(404);
  });

  it('DELETE goes back to the generated initials', async () => {
    const user = await registerUser(server);
    const uploaded = (await (await upload(user, await photoWithMetadata(), 'image/jpeg')).json()) as PublicUser;
    const res = await server.request('/api/me/avatar', { method: 'DELETE', token: user.accessToken });
    expect(res.status).toBe(200);
    const after = (await res.json()) as PublicUser;
    expect(after.avatarUrl).toMatch(/^\/api\/avatars\/initials\/[^/]+-\d{1,3}\.svg$/);
    expect(after.version).toBe(uploaded.version + 1);
    expect((await fetch(server.url + uploaded.avatarUrl)).status).toBe(404);
  });

  describe('hostile uploads are refused with a clear code and change nothing', () => {
    const cases: Array<[string, () => Promise<{ body: Buffer | string; type: string | undefined }>, number, string]> = [
      ['text labelled image/png', async () => ({ body: 'definitely not a picture', type: 'image/png' }), 422, 'image_unreadable'],
      ['a JPEG labelled image/png', async () => ({ body: await photoWithMetadata(), type: 'image/png' }), 422, 'image_unreadable'],
      ['an SVG (scripts in pictures)', async () => ({ body: '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', type: 'image/svg+xml' }), 415, 'unsupported_media_type'],
      ['an SVG labelled image/png', async () => ({ body: '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', type: 'image/png' }), 422, 'image_unreadable'],
      ['a GIF', async () => ({ body: await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } }).gif().toBuffer(), type: 'image/gif' }), 415, 'unsupported_media_type'],
      ['JSON', async () => ({ body: '{"avatar":"x"}', type: 'application/json' }), 415, 'unsupported_media_type'],
      ['no Content-Type', async () => ({ body: await photoWithMetadata(), type: undefined }), 415, 'unsupported_media_type'],
      ['a truncated JPEG', async () => { const full = await photoWithMetadata(); return { body: full.subarray(0, Math.floor(full.length * 0.6)), type: 'image/jpeg' }; }, 422, 'image_unreadable'],
      ['a truncated PNG', async () => { const full = await sharp({ create: { width: 400, height: 400, channels: 3, background: 'blue' } }).png({ compressionLevel: 0 }).toBuffer(); return { body: full.subarray(0, 2000), type: 'image/png' }; }, 422, 'image_unreadable'],
      ['a body over 5 MiB', async () => ({ body: Buffer.alloc(5 * 1024 * 1024 + 1, 0xff), type: 'image/jpeg' }), 413, 'payload_too_large'],
      ['a decompression bomb (30000×30000 in ~110 KB)', async () => ({ body: pngBomb(), type: 'image/png' }), 422, 'image_too_large'],
      ['an empty body', async () => ({ body: Buffer.alloc(0), type: 'image/png' }), 400, 'validation_failed'],
    ];
    for (const [name, make, status, code] of cases) {
      it(name, async () => {
        const user = await registerUser(server);
        const before = await me(user);
        const stored = await avatarCount();
        const { body, type } = await make();
        const res = await upload(user, body, type);
        expect(res.status).toBe(status);
        expect((await problemOf(res)).code).toBe(code);
        expect(await me(user)).toEqual(before);
        expect(await avatarCount()).toBe(stored);
      });
    }

    it('the bomb is refused from its header, quickly', async () => {
      const bomb = pngBomb();
      expect(bomb.length).toBeLessThan(200_000);
      const user = await registerUser(server);
      const started = performance.now();
      const res = await upload(user, bomb, 'image/png');
      expect(res.status).toBe(422);
      expect(performance.now() - started).toBeLessThan(2_000);
    });

    it('without a token: 401, and nothing stored', async () => {
      const stored = await avatarCount();
      const res = await fetch(`${server.url}/api/me/avatar`, { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(await photoWithMetadata()) });
      expect(res.status).toBe(401);
      expect(await avatarCount()).toBe(stored);
    });
  });
});

describe('a flood of uploads', () => {
  it('is decoded a few at a time: every answer is a picture saved or 503 with Retry-After, never a failure, and others are served meanwhile', async () => {
    const noise = await sharp({ create: { width: 1200, height: 1200, channels: 3, background: 'grey', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg({ quality: 90 }).toBuffer();
    const users = await Promise.all(Array.from({ length: 12 }, () => registerUser(server)));
    const uploads = users.map((user) => upload(user, noise, 'image/jpeg'));
    const feed = await server.request('/api/posts');
    expect(feed.status).toBe(200);
    const answers = await Promise.all(uploads);
    const statuses = answers.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 503), statuses.join()).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    for (const busy of answers.filter((r) => r.status === 503)) {
      expect(busy.headers.get('retry-after')).toBe('2');
      expect((await problemOf(busy)).code).toBe('unavailable');
    }
    // One picture for all of them: the same bytes, the same hash, one stored row.
    const urls = new Set(await Promise.all(answers.filter((r) => r.status === 200).map(async (r) => ((await r.json()) as PublicUser).avatarUrl)));
    expect(urls.size).toBe(1);
  }, 30_000);
});

describe('serving avatars', () => {
  it('an unknown or malformed hash is 404', async () => {
    expect((await fetch(`${server.url}/api/avatars/${'0'.repeat(32)}.webp`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/avatars/${'0'.repeat(32)}.webp`, { headers: { 'if-none-match': '*' } })).status).toBe(404);
    for (const bad of ['nothex.webp', `${'A'.repeat(32)}.webp`, `${'0'.repeat(32)}.png`, `..%2F..%2Fetc%2Fpasswd.webp`]) {
      expect((await fetch(`${server.url}/api/avatars/${bad}`)).status, bad).toBe(404);
    }
  });

  it('generated initials: an SVG with immutable caching and a CSP that runs no script', async () => {
    const user = await registerUser(server);
    const { avatarUrl } = await me(user);
    const res = await fetch(server.url + avatarUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const svg = await res.text();
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain(`>${user.username[0]!.toUpperCase()}</text>`);
    const again = await fetch(server.url + avatarUrl, { headers: { 'if-none-match': res.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  it('initials are XML text, never markup; at most three characters and a hue of 0-359', async () => {
    const escaped = await fetch(`${server.url}/api/avatars/initials/${encodeURIComponent('<&>')}-7.svg`);
    expect(escaped.status).toBe(200);
    const svg = await escaped.text();
    expect(svg).toContain('>&lt;&amp;&gt;</text>');
    expect(svg).not.toContain('<&>');
    const emoji = await fetch(`${server.url}/api/avatars/initials/${encodeURIComponent('👩‍👩‍👧Ω')}-359.svg`);
    expect(emoji.status).toBe(200);
    for (const bad of [encodeURIComponent('<script>'), 'ABCD-1.svg', 'AB-360.svg', 'AB-01.svg', 'AB-1000.svg', 'AB-1.png', '-1.svg', 'AB-1.svg.svg', encodeURIComponent('A\u0000')  + '-1.svg', encodeURIComponent('A B') + '-1.svg']) {
      expect((await fetch(`${server.url}/api/avatars/initials/${bad}`)).status, bad).toBe(404);
    }
  });
});
