// The users file: one line per device, `deviceId:scrypt$N$r$p$salt$hash`, where salt and hash are
// base64 and the hash is scrypt(password, salt, N, r, p) of 32 bytes. Blank lines and lines
// starting with `#` are ignored. The MQTT username is the device id. `weir passwd` writes it
// (write temp + rename, mode 0600); the gateway only reads it.
//
// Hashing runs the asynchronous `crypto.scrypt` (libuv thread pool), so a login never blocks the
// event loop; comparisons use timingSafeEqual.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { DEVICE_ID } from '../config/schema.ts';

/** Parameters `weir passwd` writes: about 16 MiB and some tens of ms per hash on a Raspberry Pi 4. */
export const DEFAULT_SCRYPT = { N: 16_384, r: 8, p: 1 } as const;
const HASH_BYTES = 32;
const SALT_BYTES = 16;
/** Bounds on parameters read from a file: enough for any sane choice, not enough to exhaust memory. */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

export interface PasswordHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

export interface UsersFile {
  readonly users: ReadonlyMap<string, PasswordHash>;
  /** One message per bad line, by line number; never the line's content. */
  readonly problems: readonly string[];
}

export function parseUsersFile(text: string): UsersFile {
  const users = new Map<string, PasswordHash>();
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = `line ${i + 1}`;
    const colon = line.indexOf(':');
    if (colon < 0) {
      problems.push(`${at}: expected deviceId:scrypt$N$r$p$salt$hash`);
      return;
    }
    const id = line.slice(0, colon);
    if (!DEVICE_ID.test(id)) {
      problems.push(`${at}: a device id is 1–256 characters without spaces, ':', '/', '+' or '#'`);
      return;
    }
    const hash = parseHash(line.slice(colon + 1));
    if (typeof hash === 'string') {
      problems.push(`${at}: ${hash}`);
      return;
    }
    if (users.has(id)) {
      problems.push(`${at}: device '${id}' appears twice`);
      return;
    }
    users.set(id, hash);
  });
  return { users, problems };
}

/** Parses `scrypt$N$r$p$salt$hash`; a string is the problem. */
export function parseHash(text: string): PasswordHash | string {
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return 'expected scrypt$N$r$p$salt$hash';
  const [N, r, p] = parts.slice(1, 4).map((v) => (/^\d{1,8}$/.test(v!) ? Number(v) : Number.NaN)) as [
    number,
    number,
    number,
  ];
  if (!(N >= 2 && N <= MAX_N && (N & (N - 1)) === 0)) return `N must be a power of two up to ${MAX_N}`;
  if (!(r >= 1 && r <= MAX_R)) return `r must be 1–${MAX_R}`;
  if (!(p >= 1 && p <= MAX_P)) return `p must be 1–${MAX_P}`;
  const salt = decodeBase64(parts[4]!);
  const hash = decodeBase64(parts[5]!);
  if (salt === null || salt.length < 8) return 'salt must be base64 of at least 8 bytes';
  if (hash === null || hash.length < 16) return 'hash must be base64 of at least 16 bytes';
  return { N, r, p, salt, hash };
}

export function formatHash(h: PasswordHash): string {
  return `scrypt$${h.N}$${h.r}$${h.p}$${h.salt.toString('base64')}$${h.hash.toString('base64')}`;
}

/** Hashes a new password with a fresh random salt. */
export async function hashPassword(
  password: Buffer | string,
  params: { N: number; r: number; p: number } = DEFAULT_SCRYPT,
): Promise<PasswordHash> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(password, salt, HASH_BYTES, params);
  return { ...params, salt, hash };
}

/** True when `password` is the one `h` was made from. Constant-time comparison. */
export async function verifyPassword(password: Buffer | string, h: PasswordHash): Promise<boolean> {
  const derived = await scryptAsync(password, h.salt, h.hash.length, h);
  return timingSafeEqual(derived, h.hash);
}

function scryptAsync(
  password: Buffer | string,
  salt: Buffer,
  length: number,
  params: { N: number; r: number; p: number },
): Promise<Buffer> {
  // Node refuses scrypt above `maxmem` (32 MiB by default); allow what the parameters need.
  const maxmem = 128 * params.N * params.r * 2 + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

function decodeBase64(s: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return null;
  return Buffer.from(s, 'base64');
}

/**
 * The file with `deviceId` set to `hash` (or removed, when hash is null): every other line —
 * comments included — kept as it is, a changed device keeps its place, a new one goes last.
 */
export function updateUsersText(text: string, deviceId: string, hash: PasswordHash | null): string {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  let found = false;
  for (const line of lines) {
    const trimmed = line.trim();
    const colon = trimmed.indexOf(':');
    if (!trimmed.startsWith('#') && colon > 0 && trimmed.slice(0, colon) === deviceId) {
      if (hash !== null && !found) out.push(`${deviceId}:${formatHash(hash)}`);
      found = true;
      continue;
    }
    out.push(line);
  }
  if (!found && hash !== null) out.push(`${deviceId}:${formatHash(hash)}`);
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
