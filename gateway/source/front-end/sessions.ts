// Sessions: what the front end remembers of a client id between its connections. weir only takes
// messages in, so a session holds one thing: the QoS 2 packet ids the device sent, that weir
// acknowledged (PUBREC) and that the device has not released (PUBREL) yet — plus, while a first
// copy is still being settled, the callbacks of its retransmissions. That is what makes QoS 2
// exactly-once across retransmissions and reconnects: a PUBLISH whose id is in the set was taken
// already, and is answered PUBREC again without reaching the intake a second time.
//
// Lifetime, as MQTT says: a clean start (3.1.1 clean session, v5 Clean Start) drops what was there;
// a session outlives its connection by its expiry (v5 Session Expiry Interval; 3.1.1 clean session
// false: the configured maximum). Bounds: the set of ids per session (checked where ids are added:
// the connection refuses a QoS 2 publish beyond it), and the number of sessions kept for absent
// devices (least recently used dropped first). Sessions live in memory: a gateway restart forgets
// them, so a QoS 2 retransmission after a restart can be taken twice (counted as a duplicate, like
// the other duplicates a crash can make).
import type { Settle } from '../../contracts.ts';

export interface Session {
  readonly clientId: string;
  /** QoS 2 ids acknowledged with PUBREC and not yet released by PUBREL. */
  readonly unreleased: Set<number>;
  /** QoS 2 ids whose first copy is being settled, with the settles of the copies that came since. */
  readonly settling: Map<number, Settle[]>;
  /** The connection using the session; null while the device is away. */
  owner: object | null;
  /** While the device is away: when the session ends (epoch ms). */
  expiresAt: number;
}

export class SessionStore {
  readonly #maxDetached: number;
  readonly #now: () => number;
  readonly #attached = new Map<string, Session>();
  /** Sessions of absent devices, least recently used first. */
  readonly #detached = new Map<string, Session>();

  constructor(maxDetached: number, now: () => number = Date.now) {
    this.#maxDetached = maxDetached;
    this.#now = now;
  }

  /**
   * The session a connection of `clientId` continues (clean start false and one is there) or a new
   * one; `present` is CONNACK's Session Present. The session is the connection's from now on: a
   * connection that still held it (a takeover) can no longer end it.
   */
  open(clientId: string, cleanStart: boolean, owner: object): { session: Session; present: boolean } {
    let session = this.#attached.get(clientId) ?? this.#detached.get(clientId);
    this.#detached.delete(clientId);
    if (session !== undefined && session.owner === null && session.expiresAt <= this.#now())
      session = undefined;
    const present = session !== undefined && !cleanStart;
    if (!present) {
      // A connection still holding the dropped session (a takeover with a clean start) must not
      // keep it when it closes.
      if (session !== undefined) session.owner = null;
      session = { clientId, unreleased: new Set(), settling: new Map(), owner, expiresAt: 0 };
    }
    session!.owner = owner;
    this.#attached.set(clientId, session!);
    return { session: session!, present };
  }

  /**
   * The connection `owner` has ended: its session is dropped (expiry 0) or kept for
   * `expirySeconds`. Does nothing when another connection has taken the session over.
   */
  close(session: Session, owner: object, expirySeconds: number): void {
    if (session.owner !== owner) return;
    session.owner = null;
    if (this.#attached.get(session.clientId) === session) this.#attached.delete(session.clientId);
    if (expirySeconds <= 0) return;
    session.expiresAt = this.#now() + expirySeconds * 1000;
    this.#detached.set(session.clientId, session);
    if (this.#detached.size > this.#maxDetached) {
      const oldest = this.#detached.keys().next().value!;
      this.#detached.delete(oldest);
    }
  }

  /** Sessions kept for absent devices (expired ones included until they are looked up or pushed out). */
  get detachedCount(): number {
    return this.#detached.size;
  }
}
