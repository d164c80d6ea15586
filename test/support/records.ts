// Reading the fleet topics back from Kafka and decoding the records with the .avsc files.
import path from 'node:path';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { consumeAll } from '../helpers/kafka.ts';
import type { Fleet } from './devices.ts';
import { repoRoot } from './gateway.ts';

const schemaFiles: Record<Fleet, string> = {
  city: 'schemas/smart-city.avsc',
  factory: 'schemas/factory-line.avsc',
  vehicle: 'schemas/vehicle-gps.avsc',
};
const types = Object.fromEntries(
  Object.entries(schemaFiles).map(([fleet, file]) => [fleet, loadSchema(path.join(repoRoot, file)).type]),
) as Record<Fleet, ReturnType<typeof loadSchema>['type']>;

/** Reads `count` records from the fleet topics; returns device id and seq in Kafka order per partition. */
export async function readFleetRecords(
  topics: Record<Fleet, string>,
  count: number,
  timeoutMs = 60_000,
): Promise<Array<{ deviceId: string; seq: number }>> {
  const fleetOf = new Map(Object.entries(topics).map(([fleet, topic]) => [topic, fleet as Fleet]));
  const messages = await consumeAll({ topics: Object.values(topics), expected: count, timeoutMs });
  messages.sort((a, b) =>
    a.topic === b.topic ? Number(a.offset) - Number(b.offset) : a.topic < b.topic ? -1 : 1,
  );
  return messages.map((m) => {
    const rec = types[fleetOf.get(m.topic)!].fromBuffer(m.value!) as { deviceId: string; seq: number };
    return { deviceId: rec.deviceId, seq: rec.seq };
  });
}
