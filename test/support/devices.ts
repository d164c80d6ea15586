// Test devices: real mqtt.js clients over real sockets, publishing JSON like the fleets do.
import mqtt, { type MqttClient } from 'mqtt';

export type Fleet = 'city' | 'factory' | 'vehicle';

export interface SentMessage {
  readonly fleet: Fleet;
  readonly deviceId: string;
  readonly topic: string;
  readonly payload: Record<string, unknown>;
}

export function topicFor(fleet: Fleet, deviceId: string): string {
  switch (fleet) {
    case 'city':
      return `city/district-${deviceId.length % 3}/air/${deviceId}`;
    case 'factory':
      return `factory/plant-1/line-${deviceId.length % 2}/${deviceId}/telemetry`;
    case 'vehicle':
      return `fleet/buses/vehicles/${deviceId}/position`;
  }
}

/** A reading that fits the fleet's schema; values vary with seq so every record is distinct. */
export function readingFor(fleet: Fleet, seq: number, ts: number): Record<string, unknown> {
  switch (fleet) {
    case 'city':
      return {
        seq,
        ts,
        pm25UgM3: 5 + (seq % 40) / 2,
        pm10UgM3: 12.5 + (seq % 7),
        no2UgM3: 20 + (seq % 11),
        intervalS: 60,
      };
    case 'factory':
      return {
        seq,
        ts,
        state: seq % 50 === 0 ? 'fault' : 'running',
        spindleSpeedRpm: 1200 + (seq % 300),
        vibrationRmsMmS: 1.5 + (seq % 10) / 10,
        temperatureC: 40 + (seq % 20) / 4,
        partCount: seq,
        faultCode: seq % 50 === 0 ? 'E42' : null,
      };
    case 'vehicle':
      return {
        seq,
        ts,
        latDeg: 52.52 + seq / 100_000,
        lonDeg: 13.405 + seq / 200_000,
        speedKmh: (seq * 7) % 90,
        headingDeg: (seq * 13) % 360,
        odometerKm: 81_000 + seq / 10,
        fuelPct: 80 - (seq % 50),
      };
  }
}

export async function connectDevice(url: string, clientId: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId, reconnectPeriod: 0, connectTimeout: 10_000 });
  return client;
}

/**
 * Publishes `count` QoS 1 messages from one device with up to `window` in flight; resolves when
 * every PUBACK has arrived. Returns what was sent, in order.
 */
export async function publishSequence(
  client: MqttClient,
  fleet: Fleet,
  deviceId: string,
  count: number,
  window = 20,
): Promise<SentMessage[]> {
  const topic = topicFor(fleet, deviceId);
  const sent: SentMessage[] = [];
  const inflight = new Set<Promise<unknown>>();
  for (let seq = 1; seq <= count; seq++) {
    const payload = readingFor(fleet, seq, Date.now());
    sent.push({ fleet, deviceId, topic, payload });
    const p = client
      .publishAsync(topic, JSON.stringify(payload), { qos: 1 })
      .finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= window) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  return sent;
}
