// MQTT 5 properties → Kafka headers. A v5 message with user properties or a content type gets
// the headers of its device topic plus:
//   - each user property under its own name, its value as UTF-8; a name the device sent more than
//     once keeps every value, in order (Kafka allows a header name more than once);
//   - the content type as `content-type`.
// The headers weir sets itself (`mqtt-topic`, `weir-gateway-id`, `avro-schema-fingerprint`,
// `content-type`) stay weir's: a consumer trusts them to pick the schema and to know the topic, so
// a device cannot forge them. A user property with one of those names is kept under
// `user-property-<name>` instead, so the device's value does not vanish either.
//
// Devices tend to send the same properties every time (a unit, a schema name), and the spool
// writes a headers object once per segment and then refers to it by identity. So each device
// topic remembers the headers of its last few property sets and hands out the same object when a
// set repeats. Sets that never repeat (a trace id per message) get a new object each time; the
// spool writes those out in full without remembering them (spool/disk/format.ts).
import type { RecordHeaders } from '../contracts.ts';

export const CONTENT_TYPE_HEADER = 'content-type';
/** Where a user property goes whose name is one of weir's own headers. */
export const RENAMED_PREFIX = 'user-property-';

/** Property sets one device topic remembers; the oldest is forgotten first. */
const SETS_PER_TOPIC = 4;
/**
 * Property sets all device topics together remember (until the intake's topic cache starts
 * over): with sets of at most MAX_KEY_CHARS, a few MB at most.
 */
export const SETS_IN_ALL = 4_096;
/** A set whose description is longer than this is not remembered (it is not a unit and a schema name). */
const MAX_KEY_CHARS = 512;

type UserProperties = Readonly<Record<string, string | string[]>>;

/** How many more property sets the device topics may remember; shared by all of them. */
export interface SetBudget {
  left: number;
}

/** The headers of one device topic's records that carry MQTT 5 properties. */
export class PropertyHeaders {
  readonly #shared: RecordHeaders;
  readonly #budget: SetBudget;
  readonly #sets = new Map<string, RecordHeaders>();

  /** `shared`: the headers of the topic's records without properties. */
  constructor(shared: RecordHeaders, budget: SetBudget) {
    this.#shared = shared;
    this.#budget = budget;
  }

  /** The headers of a record with these properties; the same object each time a set repeats. */
  get(userProperties: UserProperties | undefined, contentType: string | undefined): RecordHeaders {
    const key = JSON.stringify([contentType ?? null, userProperties ?? null]);
    const known = this.#sets.get(key);
    if (known !== undefined) return known;
    const headers = withProperties(this.#shared, userProperties, contentType);
    if (key.length > MAX_KEY_CHARS) return headers;
    if (this.#sets.size >= SETS_PER_TOPIC) {
      this.#sets.delete(this.#sets.keys().next().value!);
    } else if (this.#budget.left > 0) {
      this.#budget.left--;
    } else {
      return headers;
    }
    this.#sets.set(key, headers);
    return headers;
  }
}

/** `shared` plus the properties' headers (see the top of this file). */
export function withProperties(
  shared: RecordHeaders,
  userProperties: UserProperties | undefined,
  contentType: string | undefined,
): RecordHeaders {
  // No prototype: a property named `__proto__` or `constructor` is a header like any other.
  const out: Record<string, Buffer | Buffer[]> = Object.create(null);
  for (const name in shared) out[name] = shared[name] as Buffer;
  if (contentType !== undefined) out[CONTENT_TYPE_HEADER] = Buffer.from(contentType);
  for (const name in userProperties) {
    const values = userProperties[name]!;
    const header = name in shared || name === CONTENT_TYPE_HEADER ? RENAMED_PREFIX + name : name;
    for (const value of typeof values === 'string' ? [values] : values) {
      const bytes = Buffer.from(value);
      const before = out[header];
      if (before === undefined) out[header] = bytes;
      else if (Buffer.isBuffer(before)) out[header] = [before, bytes];
      else before.push(bytes);
    }
  }
  return out;
}
