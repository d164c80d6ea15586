// The login decision for one MQTT CONNECT: credentials and the transport's certificate in, a
// device identity or a refusal reason out. No I/O besides the asynchronous scrypt.
//
// Rules (auth is an object; `auth: none` never gets here):
//  1. A verified client certificate (auth.clientCertificates: true) logs the device in as the
//     identity it names. A username, if sent, must be that identity (else identity_mismatch);
//     a password, if sent along with it and a users file is configured, must be right.
//  2. Otherwise username + password are checked against the users file.
//  3. A certificate presented but not verified is refused (bad_certificate), even when a
//     password would do: a device that offers a certificate means to use it.
//  4. The client id must be the identity itself, or empty with a clean session (the broker
//     then makes one up): no device can take over another's session by using its client id.
//
// scrypt runs in the libuv thread pool, which the spool's file I/O shares. At most
// `maxConcurrentHashes` run at once, and at most `maxQueuedLogins` wait (beyond: `busy`, CONNACK
// 3 — server unavailable — and the device retries later), so a flood of logins cannot starve the
// spool. A successful login's password is remembered as an HMAC under a per-process random key,
// so a gateway restart with thousands of reconnecting devices does not cost thousands of scrypt
// runs twice; the memo is dropped when the users file changes.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DEFAULT_SCRYPT, type PasswordHash, verifyPassword } from './users-file.ts';

/** Why a login was refused. Stable codes: the `reason` label of weir_source_auth_failures_total. */
export type AuthFailure =
  | 'no_credentials'
  | 'unknown_device'
  | 'bad_password'
  | 'bad_certificate'
  | 'identity_mismatch'
  | 'client_id'
  | 'busy';

export const AUTH_FAILURE_REASONS: readonly AuthFailure[] = [
  'no_credentials',
  'unknown_device',
  'bad_password',
  'bad_certificate',
  'identity_mismatch',
  'client_id',
  'busy',
];

/** The CONNACK return code (MQTT 3.1.1) each refusal is answered with. */
export const RETURN_CODE: Readonly<Record<AuthFailure, 2 | 3 | 4 | 5>> = {
  no_credentials: 5,
  unknown_device: 4,
  bad_password: 4,
  bad_certificate: 5,
  identity_mismatch: 5,
  client_id: 2,
  busy: 3,
};

/**
 * The client certificate as the transport saw it: null when none was presented; 'unverified'
 * when one was presented that does not chain to the CA (or names no usable device id); else the
 * identity it names. The source's listeners fill it in for each connection.
 */
export type PresentedCertificate = { readonly identity: string } | 'unverified' | null;

export interface LoginAttempt {
  /** As the device sent it ('' when empty). */
  readonly clientId: string;
  readonly clean: boolean;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  readonly certificate: PresentedCertificate;
}

export type LoginResult =
  | { readonly ok: true; readonly identity: string }
  | { readonly ok: false; readonly reason: AuthFailure };

export interface AuthenticatorOptions {
  /** null: no users file (certificates only). */
  readonly users: ReadonlyMap<string, PasswordHash> | null;
  readonly clientCertificates: boolean;
  readonly maxConcurrentHashes?: number;
  readonly maxQueuedLogins?: number;
}

export class Authenticator {
  #users: ReadonlyMap<string, PasswordHash> | null;
  readonly #clientCertificates: boolean;
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  #running = 0;
  readonly #queue: Array<() => void> = [];
  readonly #memoKey = randomBytes(32);
  /** Device id → HMAC of the password that last logged it in, with the hash it was checked against. */
  readonly #memo = new Map<string, { hash: PasswordHash; mac: Buffer }>();
  /** Hashed against when the device is unknown, so that the answer takes as long as for a known one. */
  readonly #dummy: PasswordHash = {
    ...DEFAULT_SCRYPT,
    salt: randomBytes(16),
    hash: randomBytes(32),
  };

  constructor(opts: AuthenticatorOptions) {
    this.#users = opts.users;
    this.#clientCertificates = opts.clientCertificates;
    this.#maxConcurrent = opts.maxConcurrentHashes ?? 2;
    this.#maxQueued = opts.maxQueuedLogins ?? 256;
  }

  /** Replaces the users (a reloaded users file); remembered logins are forgotten. */
  replaceUsers(users: ReadonlyMap<string, PasswordHash>): void {
    this.#users = users;
    this.#memo.clear();
  }

  async login(a: LoginAttempt): Promise<LoginResult> {
    const result = await this.#check(a);
    if (!result.ok) return result;
    const idOk = a.clientId === result.identity || (a.clientId === '' && a.clean);
    return idOk ? result : { ok: false, reason: 'client_id' };
  }

  async #check(a: LoginAttempt): Promise<LoginResult> {
    if (a.certificate === 'unverified') return { ok: false, reason: 'bad_certificate' };
    if (a.certificate !== null && this.#clientCertificates) {
      const { identity } = a.certificate;
      if (a.username !== undefined && a.username !== identity)
        return { ok: false, reason: 'identity_mismatch' };
      if (a.password !== undefined && this.#users !== null) {
        const r = await this.#checkPassword(identity, a.password);
        if (!r.ok) return r;
      }
      return { ok: true, identity };
    }
    if (a.username === undefined || a.password === undefined || this.#users === null) {
      return { ok: false, reason: 'no_credentials' };
    }
    return this.#checkPassword(a.username, a.password);
  }

  async #checkPassword(deviceId: string, password: Buffer): Promise<LoginResult> {
    const hash = this.#users?.get(deviceId);
    if (hash !== undefined) {
      const memo = this.#memo.get(deviceId);
      if (memo !== undefined && memo.hash === hash && timingSafeEqual(this.#mac(password), memo.mac)) {
        return { ok: true, identity: deviceId };
      }
    }
    if (this.#running >= this.#maxConcurrent) {
      if (this.#queue.length >= this.#maxQueued) return { ok: false, reason: 'busy' };
      // The slot is handed over by the one that finishes: the count stays as it is.
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    } else {
      this.#running++;
    }
    let ok: boolean;
    try {
      ok = await verifyPassword(password, hash ?? this.#dummy);
    } finally {
      const next = this.#queue.shift();
      if (next !== undefined) next();
      else this.#running--;
    }
    if (hash === undefined) return { ok: false, reason: 'unknown_device' };
    if (!ok) return { ok: false, reason: 'bad_password' };
    this.#memo.set(deviceId, { hash, mac: this.#mac(password) });
    return { ok: true, identity: deviceId };
  }

  #mac(password: Buffer): Buffer {
    return createHmac('sha256', this.#memoKey).update(password).digest();
  }
}
