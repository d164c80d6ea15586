// One simulated device: its own MQTT connection and client id, a persistent session
// (clean: false) and its own message stores, so QoS 1/2 messages the gateway has not acknowledged
// are kept across a lost connection and resent by mqtt.js after the device reconnects. The device
// numbers its readings from seq 1 and records which sequence numbers were acknowledged.
//
// Reconnecting is the runner's job (bounded concurrency, backoff with jitter): mqtt.js's own
// reconnect timer is off (reconnectPeriod 0), and reconnect() is given the same stores back —
// without them mqtt.js would start a new, empty outgoing store and forget unacknowledged messages.
import mqtt, { type IClientOptions, type MqttClient, Store } from 'mqtt';
import type { SimCounters } from './counters.ts';
import type { FleetName } from './fleets/fleet.ts';
import { FLEETS } from './fleets/index.ts';
import { invalidPayload, oversizePayload, pickInvalidKind, readingPayload } from './payloads.ts';
import type { DevicePlan } from './plan.ts';
import { Random } from './random.ts';
import { SeqSet } from './seq-ranges.ts';

export type DeviceStatus = 'new' | 'connecting' | 'online' | 'offline' | 'closed';

export interface DeviceEvents {
  /** CONNACK accepted. */
  online(device: SimDevice): void;
  /** A connect attempt ended without a session. */
  connectFailed(device: SimDevice): void;
  /** An established connection was lost; `planned` when the device dropped it itself (churn). */
  offline(device: SimDevice, planned: boolean): void;
}

export interface PublishSettings {
  readonly qos: 0 | 1 | 2;
  readonly invalidRatio: number;
  readonly oversizeRatio: number;
  readonly oversizeBytes: number;
  readonly maxInflight: number;
}

export type PublishOutcome = 'reading' | 'invalid' | 'oversize' | 'skipped';

export class SimDevice {
  readonly index: number;
  readonly fleet: FleetName;
  readonly deviceId: string;
  readonly clientId: string;
  readonly topic: string;
  readonly periodMs: number;
  readonly #plan: DevicePlan;
  readonly #faults: Random;
  readonly #counters: SimCounters;
  readonly #incoming = new Store();
  readonly #outgoing = new Store();
  #client: MqttClient | null = null;
  #dropping = false;
  #dropAfterPublish = false;
  /** Messages mqtt.js gave up on, to publish again once online. */
  #retry: Array<{ payload: Buffer; qos: 1 | 2; onAck: () => void }> = [];

  status: DeviceStatus = 'new';
  /** Last sequence number used (readings published). */
  seq = 0;
  readonly acked = new SeqSet();
  inflight = 0;
  /** Messages of any kind published: what --count counts. */
  messages = 0;
  invalidSent = 0;
  invalidAcked = 0;
  oversizeSent = 0;
  skipped = 0;
  connects = 0;
  connectFailures = 0;
  drops = 0;
  disconnects = 0;
  /** Messages published again after mqtt.js gave them up. */
  republished = 0;
  firstConnectedAt: number | null = null;
  lastError: string | null = null;
  /** Consecutive failed connects, for the backoff. */
  attempt = 0;
  /** Whether a publish event for this device is in the scheduler. */
  scheduled = false;

  constructor(plan: DevicePlan, seed: number, counters: SimCounters) {
    this.#plan = plan;
    this.index = plan.index;
    this.fleet = plan.fleet;
    this.deviceId = plan.deviceId;
    this.clientId = plan.deviceId;
    this.topic = plan.model.topic;
    this.periodMs = plan.periodMs;
    this.#faults = Random.derive(seed, 'faults', plan.index);
    this.#counters = counters;
  }

  connect(url: string, options: IClientOptions, events: DeviceEvents): void {
    if (this.status === 'closed' || this.status === 'connecting' || this.status === 'online') return;
    this.status = 'connecting';
    if (this.#client !== null) {
      this.#client.reconnect({ incomingStore: this.#incoming, outgoingStore: this.#outgoing });
      return;
    }
    const client = mqtt.connect(url, {
      ...options,
      clientId: this.clientId,
      clean: false,
      reconnectPeriod: 0,
      resubscribe: false,
      incomingStore: this.#incoming,
      outgoingStore: this.#outgoing,
    });
    this.#client = client;
    client.on('connect', () => {
      if (this.status !== 'connecting') return;
      this.status = 'online';
      this.connects++;
      this.attempt = 0;
      this.firstConnectedAt ??= Date.now();
      this.#republish();
      events.online(this);
    });
    client.on('close', () => {
      const was = this.status;
      if (was === 'connecting') {
        this.status = 'offline';
        this.connectFailures++;
        events.connectFailed(this);
      } else if (was === 'online') {
        this.status = 'offline';
        const planned = this.#dropping;
        this.#dropping = false;
        if (planned) this.drops++;
        else this.disconnects++;
        events.offline(this, planned);
      }
    });
    client.on('error', (err: Error & { code?: string | number }) => {
      this.lastError = err.code !== undefined ? `${err.code}: ${err.message}` : err.message;
      this.#counters.lastError = this.lastError;
    });
  }

  /** Publishes the device's next message: a reading, or — as the fault ratios say — a bad one. */
  publishNext(s: PublishSettings): PublishOutcome {
    const client = this.#client;
    if (client === null) return 'skipped';
    if (this.inflight >= s.maxInflight) {
      this.skipped++;
      this.#counters.skipped++;
      return 'skipped';
    }
    const ts = Date.now();
    const c = this.#counters;
    const roll = s.invalidRatio > 0 || s.oversizeRatio > 0 ? this.#faults.float() : 1;
    this.messages++;
    this.inflight++;
    c.inflight++;
    if (roll < s.invalidRatio) {
      const payload = invalidPayload(FLEETS[this.fleet], pickInvalidKind(this.#faults), ts);
      this.invalidSent++;
      c.invalidSent++;
      this.#send(payload, s.qos, () => {
        this.invalidAcked++;
        c.invalidAcked++;
      });
      return 'invalid';
    }
    if (roll < s.invalidRatio + s.oversizeRatio) {
      // QoS 0: the gateway refuses it by closing the connection; as QoS 1 it would be stored and
      // resent after every reconnect, forever.
      this.oversizeSent++;
      c.oversizeSent++;
      client.publish(this.topic, oversizePayload(ts, s.oversizeBytes), { qos: 0 }, () => this.#settled());
      return 'oversize';
    }
    const seq = ++this.seq;
    c.sent++;
    const payload = readingPayload(seq, ts, this.#plan.model.next());
    this.#send(payload, s.qos, () => {
      if (this.acked.add(seq)) c.acked++;
    });
    if (this.#dropAfterPublish) {
      // A few milliseconds later: the gateway has the message, its PUBACK is still to come.
      this.#dropAfterPublish = false;
      setTimeout(() => this.drop(), this.#faults.range(1, 8));
    }
    return 'reading';
  }

  /**
   * Publishes one message; `onAck` runs when a QoS 1/2 message is acknowledged. mqtt.js keeps
   * unacknowledged QoS 1/2 messages in its store and resends them after a reconnect — except
   * publishes it queued while replaying its store, which it fails with "Connection closed" when
   * that connection drops too. Those the device publishes again once it is back online, as an
   * application with its own retry would; they stay in flight meanwhile.
   */
  #send(payload: Buffer, qos: 0 | 1 | 2, onAck: () => void): void {
    this.#client!.publish(this.topic, payload, { qos }, (err) => {
      if (err && qos !== 0 && this.status !== 'closed') {
        this.lastError = err.message;
        this.#retry.push({ payload, qos, onAck });
        if (this.status === 'online') setImmediate(() => this.#republish());
        return;
      }
      this.#settled();
      if (!err && qos !== 0) onAck();
    });
  }

  #republish(): void {
    if (this.status !== 'online' || this.#retry.length === 0) return;
    const again = this.#retry.splice(0);
    for (const r of again) {
      this.republished++;
      this.#send(r.payload, r.qos, r.onAck); // still counted in flight from the first attempt
    }
  }

  #settled(): void {
    this.inflight--;
    this.#counters.inflight--;
  }

  /**
   * Churn: loses the connection just after the next reading is sent — the case persistent
   * sessions exist for: a QoS 1 message in flight, its PUBACK lost with the connection, so the
   * device resends it after reconnecting (a duplicate in Kafka if the gateway had taken it).
   */
  dropAfterNextPublish(): void {
    if (this.status === 'online') this.#dropAfterPublish = true;
  }

  /** Drops the connection abruptly, as a device losing its network would: no DISCONNECT. */
  drop(): void {
    if (this.status !== 'online' || this.#client === null) return;
    this.#dropping = true;
    this.#client.stream.destroy();
  }

  /** Closes the connection at once, without waiting for anything. */
  destroy(): void {
    this.status = 'closed';
    this.#client?.end(true);
  }

  /** Disconnects for good: DISCONNECT when nothing is outstanding, else just closes. */
  async close(): Promise<void> {
    const client = this.#client;
    const wasOnline = this.status === 'online';
    this.status = 'closed';
    if (client === null) return;
    await client.endAsync(!wasOnline || this.inflight > 0).catch(() => {});
  }
}
