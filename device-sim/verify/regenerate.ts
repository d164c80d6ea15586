// Regenerates what a device sent: the fleet models are deterministic given the run's settings, so
// the reading with seq N is the model's Nth output. Readings are generated in order and the most
// recent ones kept, which covers records that arrive a little out of order or twice.
import type { DeviceModel, FleetName } from '../fleets/fleet.ts';
import { createModel, type ModelSettings } from '../plan.ts';

const KEEP = 1024;

export class Regenerator {
  readonly #model: DeviceModel;
  readonly #recent = new Map<number, Record<string, unknown>>();
  #next = 1;

  constructor(settings: ModelSettings, fleet: FleetName, index: number, deviceId: string) {
    this.#model = createModel(settings, fleet, index, deviceId);
  }

  get topic(): string {
    return this.#model.topic;
  }

  /** The fields of reading `seq` (without seq and ts), or null when it is too far back to tell. */
  reading(seq: number): Record<string, unknown> | null {
    while (this.#next <= seq) {
      this.#recent.set(this.#next, this.#model.next());
      this.#recent.delete(this.#next - KEEP);
      this.#next++;
    }
    return this.#recent.get(seq) ?? null;
  }
}

/** Names of the fields whose value in `record` differs from the reading the device sent. */
export function differingFields(
  sent: Readonly<Record<string, unknown>>,
  record: Readonly<Record<string, unknown>>,
  schemaFields: ReadonlySet<string>,
): string[] {
  const out: string[] = [];
  for (const [field, expected] of Object.entries(sent)) {
    if (!schemaFields.has(field)) continue;
    const got = record[field] ?? null;
    if (got !== (expected ?? null)) out.push(field);
  }
  return out;
}
