// vehicle-gps generator: vehicles move continuously along road-like paths at plausible speeds,
// stop now and then, keep their heading, count kilometres, use and refill energy; reports carry GPS
// noise that stays within a few metres.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { vehicleGps } from '../../device-sim/fleets/vehicle-gps/index.ts';
import { PROFILES } from '../../device-sim/fleets/vehicle-gps/profiles.ts';
import {
  Vehicle,
  type VehicleReading,
  type VehicleState,
} from '../../device-sim/fleets/vehicle-gps/vehicle.ts';
import { DEFAULT_CENTER } from '../../device-sim/options.ts';
import { Random } from '../../device-sim/random.ts';
import { bearingDeg, bearingDiffDeg, distanceM, toEnu } from '../../device-sim/world/geo.ts';

interface Trace {
  profile: keyof typeof PROFILES;
  steps: Array<{ truth: VehicleState; report: VehicleReading }>;
}

function drive(vehicles: number, seconds: number, stepS: number, seed = 5): Trace[] {
  const kinds = Object.keys(PROFILES) as Array<keyof typeof PROFILES>;
  return Array.from({ length: vehicles }, (_, i) => {
    const profile = kinds[i % kinds.length]!;
    const v = new Vehicle(Random.derive(seed, i), PROFILES[profile], { e: 0, n: 0 }, stepS);
    const steps = [];
    for (let k = 0; k < seconds / stepS; k++) {
      const report = v.step();
      steps.push({ truth: v.state, report });
    }
    return { profile, steps };
  });
}

const dist = (a: { e: number; n: number }, b: { e: number; n: number }) => Math.hypot(a.e - b.e, a.n - b.n);

describe('vehicle-gps fleet', () => {
  const fleet = drive(24, 2 * 3600, 1);

  test('vehicles move continuously: no jumps, plausible speed and acceleration', () => {
    for (const { steps } of fleet) {
      for (let i = 1; i < steps.length; i++) {
        const a = steps[i - 1]!;
        const b = steps[i]!;
        const travelled = b.truth.odometerM - a.truth.odometerM;
        assert.ok(travelled >= 0, 'the odometer never goes back');
        assert.ok(travelled <= (110 / 3.6) * 1 + 1e-6, `travelled ${travelled} m in 1 s`);
        assert.ok(
          dist(a.truth.position, b.truth.position) <= travelled + 1e-6,
          'position moves no further than driven',
        );
        assert.ok(Math.abs(b.truth.speedMs - a.truth.speedMs) <= 5.01, 'acceleration within ±5 m/s²');
        // Reported (noisy) positions: the noise wanders slowly, so consecutive fixes stay close.
        assert.ok(dist(a.report.position, b.report.position) <= travelled + 8, 'GPS fixes do not jump');
        assert.ok(dist(b.report.position, b.truth.position) < 15, 'GPS error stays within 15 m');
        assert.ok(b.report.speedKmh >= 0 && b.report.speedKmh <= 110);
        assert.ok(b.report.headingDeg >= 0 && b.report.headingDeg < 360);
        assert.ok(b.report.odometerKm >= a.report.odometerKm);
      }
    }
  });

  test('they drive at plausible city speeds and stop now and then', () => {
    for (const { profile, steps } of fleet) {
      const stopped = steps.filter((s) => s.report.speedKmh === 0).length / steps.length;
      const moving = steps.filter((s) => s.report.speedKmh > 0).map((s) => s.report.speedKmh);
      const avg = moving.reduce((x, y) => x + y, 0) / moving.length;
      assert.ok(
        stopped > 0.03 && stopped < 0.7,
        `${profile} stopped ${(stopped * 100).toFixed(0)} % of the time`,
      );
      assert.ok(avg > 15 && avg < 60, `${profile} average moving speed ${avg.toFixed(1)} km/h`);
      assert.ok(Math.max(...moving) <= 80, 'no speeding far over urban limits');
    }
  });

  test('paths are road-like: straight segments on a grid, with turns', () => {
    for (const { steps } of fleet) {
      const bearings: number[] = [];
      for (let i = 5; i < steps.length; i += 5) {
        const a = steps[i - 5]!.truth;
        const b = steps[i]!.truth;
        const d = dist(a.position, b.position);
        // A 5 s stretch as long as it was driven is straight; its bearing is a street's.
        if (d > 30 && Math.abs(d - (b.odometerM - a.odometerM)) < 0.01) {
          bearings.push(bearingDeg(b.position.e - a.position.e, b.position.n - a.position.n));
        }
      }
      assert.ok(bearings.length > 50);
      const grid = bearings[0]! % 90;
      for (const b of bearings)
        assert.ok(bearingDiffDeg(b % 90, grid) < 0.5 || bearingDiffDeg(b % 90, grid) > 89.5);
      const directions = new Set(bearings.map((b) => Math.round((b - grid) / 90) % 4));
      assert.ok(directions.size >= 3, 'the vehicle turns');
    }
  });

  test('the reported heading is the direction of travel, and holds while standing', () => {
    let agree = 0;
    let moving = 0;
    for (const { steps } of fleet) {
      for (let i = 1; i < steps.length; i++) {
        const a = steps[i - 1]!;
        const b = steps[i]!;
        if (b.report.speedKmh === 0 && a.report.speedKmh === 0) {
          assert.equal(b.report.headingDeg, a.report.headingDeg);
          continue;
        }
        if (b.truth.speedMs < 5 || a.truth.speedMs < 5) continue;
        moving++;
        const course = bearingDeg(
          b.truth.position.e - a.truth.position.e,
          b.truth.position.n - a.truth.position.n,
        );
        if (bearingDiffDeg(course, b.report.headingDeg) < 6) agree++;
      }
    }
    assert.ok(agree / moving > 0.97, `heading agrees with travel ${((100 * agree) / moving).toFixed(1)} %`);
  });

  test('vehicles stay in town', () => {
    for (const { profile, steps } of fleet) {
      for (const s of steps) {
        assert.ok(dist(s.truth.position, { e: 0, n: 0 }) < PROFILES[profile].homeRadiusM + 3000);
      }
    }
  });

  test('energy: one of fuel or battery, used while driving, refilled when low', () => {
    const day = drive(9, 36 * 3600, 10, 11);
    let refills = 0;
    for (const { steps } of day) {
      const kinds = new Set(steps.map((s) => s.report.energy));
      assert.equal(kinds.size, 1);
      for (let i = 1; i < steps.length; i++) {
        const a = steps[i - 1]!.report;
        const b = steps[i]!.report;
        assert.ok(b.energyPct >= 0 && b.energyPct <= 100);
        if (b.energyPct > a.energyPct) {
          const atPump = [steps[i - 1]!.truth.stop, steps[i]!.truth.stop].some(
            (s) => s === 'refuel' || s === 'charge',
          );
          assert.ok(atPump, 'energy rises only at a pump or charger');
        }
      }
      if (steps.some((s) => s.truth.stop === 'refuel' || s.truth.stop === 'charge')) refills++;
      const start = steps[0]!.report.energyPct;
      const min = Math.min(...steps.map((s) => s.report.energyPct));
      assert.ok(min < start, 'driving uses energy');
      assert.ok(min > 5, `never runs dry (min ${min} %)`);
    }
    assert.ok(refills >= 3, `${refills} vehicles refuelled or charged in 36 h`);
  });

  test('the fleet model reports WGS 84 positions on fleet/{fleetId}/vehicles/{vehicleId}/position', () => {
    const model = vehicleGps.create({
      deviceId: 'v-1',
      rng: Random.derive(3),
      center: DEFAULT_CENTER,
      startMs: 0,
      stepS: 1,
    });
    assert.match(model.topic, /^fleet\/(buses|delivery|taxis)\/vehicles\/v-1\/position$/);
    let prev: { latDeg: number; lonDeg: number } | null = null;
    for (let i = 0; i < 600; i++) {
      const r = model.next() as Record<string, number | boolean | null>;
      const here = { latDeg: r.latDeg as number, lonDeg: r.lonDeg as number };
      assert.ok(distanceM(DEFAULT_CENTER, here) < 12_000);
      assert.ok(Math.abs(toEnu(DEFAULT_CENTER, here).e) < 12_000);
      if (prev !== null) assert.ok(distanceM(prev, here) < 40, 'consecutive fixes a second apart');
      assert.equal((r.batteryPct === null) !== (r.fuelPct === null), true);
      assert.ok((r.satellites as number) >= 5 && (r.gpsAccuracyM as number) > 0);
      prev = here;
    }
  });
});
