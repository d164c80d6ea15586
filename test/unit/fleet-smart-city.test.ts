// smart-city generator: values stay in real ranges, and the city has a daily rhythm.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { smartCity } from '../../device-sim/fleets/smart-city/index.ts';
import { DEFAULT_CENTER } from '../../device-sim/options.ts';
import { Random } from '../../device-sim/random.ts';
import { sunElevationDeg } from '../../device-sim/world/sun.ts';

/** A Wednesday in June and one in December, 00:00 local (UTC+1 solar time zone of 13.4° E). */
const JUNE_WED = Date.parse('2026-06-17T00:00:00+01:00');
const DEC_WED = Date.parse('2026-12-16T00:00:00+01:00');

const STEP_S = 120;

interface Sensor {
  type: string;
  site: string;
  readings: Array<Record<string, unknown> & { hour: number }>;
}

/** `devices` sensors, each reporting every `stepS` for `hours` from `startMs`. */
function simulate(devices: number, startMs: number, hours: number, stepS: number, seed = 1): Sensor[] {
  return Array.from({ length: devices }, (_, i) => {
    const model = smartCity.create({
      deviceId: `s${i}`,
      rng: Random.derive(seed, i),
      center: DEFAULT_CENTER,
      startMs,
      stepS,
    });
    const [, site, type] = model.topic.split('/');
    const readings = [];
    const steps = (hours * 3600) / stepS;
    for (let k = 0; k < steps; k++) readings.push({ ...model.next(), hour: ((k * stepS) / 3600) % 24 });
    return { type: type!, site: site!, readings };
  });
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const inHours = (s: Sensor[], type: string, from: number, to: number, field: string) =>
  s
    .filter((x) => x.type === type)
    .flatMap((x) => x.readings.filter((r) => r.hour >= from && r.hour < to).map((r) => r[field] as number));

describe('smart-city fleet', () => {
  const day = simulate(200, JUNE_WED, 24, STEP_S);

  test('topics follow the route city/{site}/{sensorType}/{deviceId}, with every sensor type', () => {
    const types = new Set(day.map((s) => s.type));
    assert.deepEqual([...types].sort(), ['air', 'light', 'noise', 'parking', 'traffic']);
  });

  test('values stay in real ranges; each sensor fills only its own fields', () => {
    const own: Record<string, string[]> = {
      air: ['pm25UgM3', 'pm10UgM3', 'no2UgM3', 'batteryPct'],
      noise: ['noiseDba', 'noiseMaxDba', 'batteryPct'],
      traffic: ['vehicleCount', 'avgSpeedKmh'],
      parking: ['parkingOccupied', 'parkingCapacity', 'batteryPct'],
      light: ['lightOn', 'lightDimPct', 'lightEnergyWh'],
    };
    for (const s of day) {
      for (const r of s.readings) {
        const fields = Object.keys(r).filter((k) => !['hour', 'latDeg', 'lonDeg', 'intervalS'].includes(k));
        assert.deepEqual(fields.sort(), [...own[s.type]!].sort(), `${s.type} fields`);
        assert.ok(Math.abs((r.latDeg as number) - DEFAULT_CENTER.latDeg) < 0.1);
        assert.ok(Math.abs((r.lonDeg as number) - DEFAULT_CENTER.lonDeg) < 0.15);
        if (r.batteryPct !== undefined)
          assert.ok((r.batteryPct as number) > 0 && (r.batteryPct as number) <= 100);
        switch (s.type) {
          case 'air': {
            const pm25 = r.pm25UgM3 as number;
            const pm10 = r.pm10UgM3 as number;
            assert.ok(pm25 >= 0.5 && pm25 <= 150, `PM2.5 ${pm25}`);
            assert.ok(pm10 >= pm25 && pm10 <= 300, `PM10 ${pm10} ≥ PM2.5 ${pm25}`);
            assert.ok((r.no2UgM3 as number) >= 0 && (r.no2UgM3 as number) <= 200);
            break;
          }
          case 'noise':
            assert.ok((r.noiseDba as number) >= 30 && (r.noiseDba as number) <= 110);
            assert.ok((r.noiseMaxDba as number) >= (r.noiseDba as number));
            break;
          case 'traffic':
            assert.ok(Number.isInteger(r.vehicleCount) && (r.vehicleCount as number) >= 0);
            assert.ok((r.vehicleCount as number) <= STEP_S, 'at most one vehicle per second');
            if (r.vehicleCount === 0) assert.equal(r.avgSpeedKmh, null);
            else assert.ok((r.avgSpeedKmh as number) >= 5 && (r.avgSpeedKmh as number) <= 90);
            break;
          case 'parking':
            assert.ok(Number.isInteger(r.parkingOccupied));
            assert.ok(
              (r.parkingOccupied as number) >= 0 &&
                (r.parkingOccupied as number) <= (r.parkingCapacity as number),
            );
            break;
          case 'light':
            assert.equal(r.lightOn, (r.lightDimPct as number) > 0);
            // At most the brightest lamp (150 W) on for the whole interval.
            assert.ok(
              (r.lightEnergyWh as number) >= 0 && (r.lightEnergyWh as number) <= (150 * STEP_S) / 3600,
            );
            break;
        }
      }
    }
  });

  test('traffic has rush hours: mornings and evenings far busier than the night', () => {
    const night = mean(inHours(day, 'traffic', 2, 4, 'vehicleCount'));
    const morning = mean(inHours(day, 'traffic', 7.5, 8.5, 'vehicleCount'));
    const evening = mean(inHours(day, 'traffic', 17, 18, 'vehicleCount'));
    assert.ok(morning > 5 * night, `morning ${morning} vs night ${night}`);
    assert.ok(evening > 5 * night, `evening ${evening} vs night ${night}`);
    const no2Night = mean(inHours(day, 'air', 2, 4, 'no2UgM3'));
    const no2Rush = mean(inHours(day, 'air', 7.5, 8.5, 'no2UgM3'));
    assert.ok(no2Rush > 1.5 * no2Night, `NO2 follows traffic: ${no2Rush} vs ${no2Night}`);
  });

  test('noise is lower at night than in the afternoon', () => {
    const night = mean(inHours(day, 'noise', 2, 4, 'noiseDba'));
    const afternoon = mean(inHours(day, 'noise', 13, 16, 'noiseDba'));
    assert.ok(afternoon - night > 10, `afternoon ${afternoon} dB(A) vs night ${night} dB(A)`);
    assert.ok(night > 35 && night < 55 && afternoon > 55 && afternoon < 75);
  });

  test('street lights are on when the sun is down, off when it is up, dimmed after midnight', () => {
    for (const [start, label] of [
      [JUNE_WED, 'June'],
      [DEC_WED, 'December'],
    ] as const) {
      const lights = simulate(40, start, 24, 300).filter((s) => s.type === 'light');
      assert.ok(lights.length > 0);
      for (const s of lights) {
        s.readings.forEach((r, k) => {
          const t = start + k * 300_000;
          const sun = sunElevationDeg(t, DEFAULT_CENTER);
          if (sun > 3)
            assert.equal(r.lightOn, false, `${label} ${new Date(t).toISOString()} sun ${sun.toFixed(1)}°`);
          if (sun < -3)
            assert.equal(r.lightOn, true, `${label} ${new Date(t).toISOString()} sun ${sun.toFixed(1)}°`);
          if (r.lightOn && r.hour >= 0.5 && r.hour < 4.5) assert.equal(r.lightDimPct, 50);
        });
      }
      const onHours = mean(lights.map((s) => s.readings.filter((r) => r.lightOn).length / 12));
      if (label === 'June') assert.ok(onHours > 6 && onHours < 9.5, `June night ${onHours} h`);
      else assert.ok(onHours > 14 && onHours < 17.5, `December night ${onHours} h`);
    }
  });

  test('parking follows who parks there: commuter areas fill by day', () => {
    const commuter = day.filter(
      (s) => s.type === 'parking' && ['centre', 'harbour', 'university'].includes(s.site),
    );
    assert.ok(commuter.length > 0);
    const share = (from: number, to: number) =>
      mean(
        commuter.flatMap((s) =>
          s.readings
            .filter((r) => r.hour >= from && r.hour < to)
            .map((r) => (r.parkingOccupied as number) / (r.parkingCapacity as number)),
        ),
      );
    assert.ok(share(11, 14) > share(2, 5) + 0.3, `midday ${share(11, 14)} vs night ${share(2, 5)}`);
  });

  test('the same seed gives the same readings; another seed does not', () => {
    const a = simulate(5, JUNE_WED, 1, 60, 42);
    const b = simulate(5, JUNE_WED, 1, 60, 42);
    const c = simulate(5, JUNE_WED, 1, 60, 43);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });
});
