// Which fleet each simulated device belongs to. A mix gives weights per fleet; devices are
// interleaved in proportion (smooth weighted round robin), so a ramp-up connects every fleet
// from the start and any prefix of the device list has about the right mix.
import { FLEET_NAMES, type FleetName, isFleetName } from './fleets/fleet.ts';
import { parseWeights } from './parse.ts';

export type FleetMix = Readonly<Partial<Record<FleetName, number>>>;

export const MIXED: FleetMix = { 'smart-city': 1, 'factory-line': 1, 'vehicle-gps': 1 };

/** "mixed", "vehicle-gps", "smart-city,vehicle-gps", "smart-city=5,factory-line=2". */
export function parseMix(text: string): { mix: FleetMix } | { problem: string } {
  if (text.trim() === 'mixed' || text.trim() === 'all') return { mix: MIXED };
  const entries = parseWeights(text, (v) => {
    const n = Number(v);
    return Number.isFinite(n) && n >= 0 ? n : null;
  });
  if (entries === null)
    return {
      problem: `cannot read '${text}': use a fleet name, 'mixed', or weights like smart-city=5,vehicle-gps=1`,
    };
  const mix: Partial<Record<FleetName, number>> = {};
  for (const [name, weight] of entries) {
    if (!isFleetName(name))
      return { problem: `unknown fleet '${name}' (fleets: ${FLEET_NAMES.join(', ')}, or mixed)` };
    mix[name] = (mix[name] ?? 0) + weight;
  }
  if (Object.values(mix).every((w) => w === 0)) return { problem: 'the fleet weights add up to 0' };
  return { mix };
}

/** The fleet of each of `count` devices, in device order. */
export function assignFleets(mix: FleetMix, count: number): FleetName[] {
  const fleets = FLEET_NAMES.filter((f) => (mix[f] ?? 0) > 0);
  const total = fleets.reduce((s, f) => s + mix[f]!, 0);
  const current = new Map(fleets.map((f) => [f, 0]));
  const out: FleetName[] = [];
  for (let i = 0; i < count; i++) {
    let best: FleetName = fleets[0]!;
    for (const f of fleets) {
      current.set(f, current.get(f)! + mix[f]!);
      if (current.get(f)! > current.get(best)!) best = f;
    }
    current.set(best, current.get(best)! - total);
    out.push(best);
  }
  return out;
}

export function countByFleet(fleets: readonly FleetName[]): Partial<Record<FleetName, number>> {
  const out: Partial<Record<FleetName, number>> = {};
  for (const f of fleets) out[f] = (out[f] ?? 0) + 1;
  return out;
}
