// factory-line generator: machine states follow their transitions, and the measurements fit the
// state (a stopped spindle does not turn, parts come only from a running machine).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { factoryLine } from '../../device-sim/fleets/factory-line/index.ts';
import { MACHINE_KINDS, Machine, type MachineReading } from '../../device-sim/fleets/factory-line/machine.ts';
import {
  isAllowedTransition,
  MACHINE_STATES,
  type MachineState,
  TRANSITIONS,
} from '../../device-sim/fleets/factory-line/states.ts';
import { DEFAULT_CENTER } from '../../device-sim/options.ts';
import { Random } from '../../device-sim/random.ts';

/** `machines` machines for `hours` of model time at one reading per `stepS`. */
function run(
  machines: number,
  hours: number,
  stepS: number,
  seed = 7,
): Array<{ kind: string; readings: MachineReading[] }> {
  return Array.from({ length: machines }, (_, i) => {
    const m = new Machine(Random.derive(seed, i), stepS);
    const readings: MachineReading[] = [];
    for (let k = 0; k < (hours * 3600) / stepS; k++) readings.push(m.step());
    return { kind: m.kind.name, readings };
  });
}

describe('factory-line fleet', () => {
  const plant = run(30, 24, 5);

  test('every state change is an allowed transition, and every transition happens', () => {
    const seen = new Set<string>();
    for (const { readings } of plant) {
      for (let i = 1; i < readings.length; i++) {
        const from = readings[i - 1]!.state;
        const to = readings[i]!.state;
        assert.ok(isAllowedTransition(from, to), `${from} → ${to} is not allowed`);
        if (from !== to) seen.add(`${from}→${to}`);
      }
    }
    const all = MACHINE_STATES.flatMap((from) => Object.keys(TRANSITIONS[from]).map((to) => `${from}→${to}`));
    assert.deepEqual([...seen].sort(), all.sort(), 'a day of 30 machines shows every transition');
  });

  test('time in each state is plausible: mostly running, faults rare', () => {
    const time = new Map<MachineState, number>();
    let total = 0;
    for (const { readings } of plant) {
      for (const r of readings) {
        time.set(r.state, (time.get(r.state) ?? 0) + 1);
        total++;
      }
    }
    const share = (s: MachineState) => (time.get(s) ?? 0) / total;
    assert.ok(share('running') > 0.5 && share('running') < 0.9, `running ${share('running')}`);
    assert.ok(share('fault') > 0 && share('fault') < 0.1, `fault ${share('fault')}`);
  });

  test('measurements fit the state and stay in range', () => {
    for (const { kind, readings } of plant) {
      const spec = MACHINE_KINDS.find((k) => k.name === kind)!;
      for (let i = 0; i < readings.length; i++) {
        const r = readings[i]!;
        assert.ok(
          r.spindleSpeedRpm >= 0 && r.spindleSpeedRpm <= spec.rpm[1] * 1.02,
          `rpm ${r.spindleSpeedRpm}`,
        );
        assert.ok(r.vibrationRmsMmS > 0 && r.vibrationRmsMmS < 20, `vibration ${r.vibrationRmsMmS}`);
        assert.ok(r.temperatureC > 15 && r.temperatureC < 110, `temperature ${r.temperatureC}`);
        assert.ok(r.powerKw >= 0 && r.powerKw < spec.ratedKw + 5, `power ${r.powerKw}`);
        assert.ok(r.spindleLoadPct >= 0 && r.spindleLoadPct <= 110);
        assert.equal(r.faultCode !== null, r.state === 'fault', 'a fault code exactly while in fault');
        if (r.state !== 'running') assert.equal(r.spindleLoadPct, 0);
        // After 10 s in a non-running state the spindle stands still.
        const still = readings.slice(Math.max(0, i - 2), i + 1).every((x) => x.state !== 'running');
        if (still && i >= 2) assert.equal(r.spindleSpeedRpm, 0, `${r.state}: spindle stopped`);
        if (r.state === 'running' && i >= 2 && readings[i - 2]!.state === 'running') {
          assert.ok(r.spindleSpeedRpm >= spec.rpm[0] * 0.5, 'a running spindle turns');
        }
      }
    }
  });

  test('the part counter only grows while running, and resets only after maintenance', () => {
    let resets = 0;
    let produced = 0;
    for (const { readings } of plant) {
      for (let i = 1; i < readings.length; i++) {
        const a = readings[i - 1]!;
        const b = readings[i]!;
        if (b.partCount < a.partCount) {
          assert.equal(b.partCount, 0);
          assert.ok(a.state === 'maintenance' && b.state === 'idle', 'reset at the end of maintenance');
          resets++;
        } else if (b.partCount > a.partCount) {
          assert.ok(a.state === 'running' || b.state === 'running', `parts while ${a.state} → ${b.state}`);
          assert.ok(b.partCount - a.partCount <= 1, 'at most one part per 5 s');
          produced += b.partCount - a.partCount;
        }
      }
    }
    assert.ok(resets > 0 && produced > 1000);
  });

  test('bearing faults announce themselves: vibration climbs before an E201 fault', () => {
    let checked = 0;
    for (const { readings } of run(40, 48, 15, 3)) {
      for (let i = 1; i < readings.length; i++) {
        if (readings[i]!.faultCode !== 'E201' || readings[i - 1]!.state !== 'running') continue;
        const before = readings[i - 1]!.vibrationRmsMmS;
        assert.ok(
          before > 4.5,
          `vibration just before a bearing fault: ${before} mm/s (ISO 10816 unsatisfactory)`,
        );
        checked++;
      }
    }
    assert.ok(checked > 0, 'some bearing faults occurred');
  });

  test('the fleet model reports on factory/{plant}/{line}/{machineId}/telemetry several times a second', () => {
    const model = factoryLine.create({
      deviceId: 'm-1',
      rng: Random.derive(1),
      center: DEFAULT_CENTER,
      startMs: 0,
      stepS: 1 / factoryLine.defaultRatePerS,
    });
    assert.match(model.topic, /^factory\/plant-\d\/line-[a-d]\/m-1\/telemetry$/);
    assert.ok(factoryLine.defaultRatePerS >= 2);
    const r = model.next();
    assert.ok(MACHINE_STATES.includes(r.state as MachineState));
  });
});
