// What goes on the wire. A reading becomes JSON with `seq` and `ts` first. Fault payloads carry
// no `seq` (they are not readings, so they do not use up sequence numbers): malformed ones the
// gateway must dead-letter, oversize ones it must refuse by closing the connection.
import type { Fleet } from './fleets/fleet.ts';
import type { Random } from './random.ts';

export function readingPayload(seq: number, ts: number, fields: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify({ seq, ts, ...fields }));
}

export const INVALID_KINDS = ['truncated-json', 'not-utf8', 'wrong-type', 'not-an-object'] as const;
export type InvalidKind = (typeof INVALID_KINDS)[number];

/** A malformed payload: invalid_json (truncated, binary) or schema_mismatch (wrong type, array). */
export function invalidPayload(fleet: Fleet, kind: InvalidKind, ts: number): Buffer {
  switch (kind) {
    case 'truncated-json': {
      const whole = JSON.stringify({ ts, [fleet.typedField]: 12.5, note: 'cut off in transit' });
      return Buffer.from(whole.slice(0, Math.floor(whole.length / 2)));
    }
    case 'not-utf8':
      return Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0xc3, 0x28]);
    case 'wrong-type':
      return Buffer.from(JSON.stringify({ ts, [fleet.typedField]: 'n/a' }));
    case 'not-an-object':
      return Buffer.from(JSON.stringify([ts, 12.5]));
  }
}

export function pickInvalidKind(rng: Random): InvalidKind {
  return rng.pick(INVALID_KINDS);
}

/** Valid JSON of about `bytes` bytes: larger than the gateway's packet limit when bytes is. */
export function oversizePayload(ts: number, bytes: number): Buffer {
  const head = JSON.stringify({ ts, blob: '' });
  const fill = Math.max(0, bytes - head.length);
  return Buffer.from(`${head.slice(0, -2)}${'x'.repeat(fill)}"}`);
}
