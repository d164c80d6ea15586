// What verify found in Kafka, accumulated record by record: per device, the sequence numbers in
// the order Kafka holds them; per fleet, the latency samples; and how many records did not fit.
import type { FleetName } from '../fleets/fleet.ts';
import type { ModelSettings } from '../plan.ts';
import type { DeviceReport, SimReport } from '../report.ts';
import { Samples } from './percentiles.ts';
import { differingFields, Regenerator } from './regenerate.ts';

export class DeviceTally {
  readonly device: DeviceReport;
  /** Sequence numbers in Kafka order (offset order within the device's partition). */
  readonly seqs: number[] = [];
  corrupted = 0;
  /** Records compared with the regenerated reading. */
  checked = 0;
  readonly corruptFields = new Set<string>();
  readonly #regenerator: Regenerator | null;

  constructor(device: DeviceReport, regenerator: Regenerator | null) {
    this.device = device;
    this.#regenerator = regenerator;
  }

  add(seq: number, record: Readonly<Record<string, unknown>>, schemaFields: ReadonlySet<string>): void {
    this.seqs.push(seq);
    if (this.#regenerator === null || seq < 1 || seq > this.device.sent) return;
    const sent = this.#regenerator.reading(seq);
    if (sent === null) return;
    this.checked++;
    const differing = differingFields(sent, record, schemaFields);
    if (differing.length > 0) {
      this.corrupted++;
      for (const f of differing) this.corruptFields.add(f);
    }
  }
}

export class FleetTally {
  readonly gatewayLatency = new Samples();
  readonly appendLatency = new Samples();
  records = 0;
  /** Records of this run without a seq field. */
  noSeq = 0;
  /** Kafka key differs from the record's deviceId. */
  keyMismatch = 0;
}

export interface RecordFacts {
  readonly deviceId: string;
  readonly key: string | null;
  readonly seq: number | null;
  readonly ts: number;
  readonly receivedAt: number | null;
  /** Kafka's append time, when the topic records it (LogAppendTime). */
  readonly appendTime: number | null;
  readonly record: Readonly<Record<string, unknown>>;
}

export class Tally {
  readonly devices = new Map<string, DeviceTally>();
  readonly fleets = new Map<FleetName, FleetTally>();
  /** Records of devices that are not in the report (other runs, other producers). */
  foreign = 0;
  /** Records that could not be decoded. */
  undecodable = 0;
  /** Whether values are compared with regenerated readings. */
  readonly integrity: boolean;
  /** Devices whose readings could not be regenerated (the fleet models changed since the run). */
  regenerationMismatch = 0;

  constructor(report: SimReport, opts: { integrity: boolean }) {
    this.integrity = opts.integrity;
    const c = report.config;
    const settings: ModelSettings = {
      seed: c.seed,
      modelStartMs: c.modelStartMs,
      timeWarp: c.timeWarp,
      center: c.center,
      rates: c.rates,
    };
    for (const d of report.devices) {
      let regen = opts.integrity ? new Regenerator(settings, d.fleet, d.index, d.deviceId) : null;
      if (regen !== null && regen.topic !== d.topic) {
        regen = null;
        this.regenerationMismatch++;
      }
      this.devices.set(d.deviceId, new DeviceTally(d, regen));
      if (!this.fleets.has(d.fleet)) this.fleets.set(d.fleet, new FleetTally());
    }
  }

  add(facts: RecordFacts, schemaFields: ReadonlySet<string>): void {
    const device = this.devices.get(facts.deviceId);
    if (device === undefined) {
      this.foreign++;
      return;
    }
    const fleet = this.fleets.get(device.device.fleet)!;
    fleet.records++;
    if (facts.key !== facts.deviceId) fleet.keyMismatch++;
    if (facts.receivedAt !== null) fleet.gatewayLatency.add(facts.receivedAt - facts.ts);
    if (facts.appendTime !== null) fleet.appendLatency.add(facts.appendTime - facts.ts);
    if (facts.seq === null) {
      fleet.noSeq++;
      return;
    }
    device.add(facts.seq, facts.record, schemaFields);
  }
}
