// smart-city: street-side sensors spread over the city's districts — air quality, noise, traffic
// counters, parking bay groups and street lights — with the city's daily rhythm.
// Topic: city/{site}/{sensorType}/{deviceId}; schema: schemas/smart-city.avsc.
import { round } from '../../random.ts';
import { utcOffsetMin } from '../../world/daily.ts';
import { toLatLon } from '../../world/geo.ts';
import type { DeviceContext, DeviceModel, Fleet } from '../fleet.ts';
import { airSensor } from './air.ts';
import { streetLight } from './light.ts';
import { noiseSensor } from './noise.ts';
import { parkingSensor } from './parking.ts';
import type { SensorContext, SensorStep, SensorType } from './sensor.ts';
import { SITES } from './sites.ts';
import { trafficCounter } from './traffic.ts';

const SENSOR_MIX: Record<SensorType, number> = { air: 25, noise: 20, traffic: 20, parking: 20, light: 15 };

function createSensor(ctx: DeviceContext): DeviceModel {
  const { rng, center, startMs, stepS } = ctx;
  const sensorType = rng.weighted(SENSOR_MIX);
  const site = rng.pick(SITES);
  const angle = rng.range(0, 2 * Math.PI);
  const dist = site.radiusM * Math.sqrt(rng.float());
  const position = toLatLon(center, {
    e: site.offset.e + dist * Math.sin(angle),
    n: site.offset.n + dist * Math.cos(angle),
  });
  const sensor: SensorContext = { rng, site, position, stepS };
  const offset = utcOffsetMin(center);
  const step: SensorStep =
    sensorType === 'air'
      ? airSensor(sensor, offset)
      : sensorType === 'noise'
        ? noiseSensor(sensor, offset)
        : sensorType === 'traffic'
          ? trafficCounter(sensor, offset)
          : sensorType === 'parking'
            ? parkingSensor(sensor, offset, startMs)
            : streetLight(sensor, offset, startMs);
  const fixed = {
    latDeg: round(position.latDeg, 6),
    lonDeg: round(position.lonDeg, 6),
    intervalS: Math.max(1, Math.round(stepS)),
  };
  let k = 0;
  return {
    topic: `city/${site.name}/${sensorType}/${ctx.deviceId}`,
    next() {
      const timeMs = startMs + k * stepS * 1000;
      k++;
      return { ...step(timeMs), ...fixed };
    },
  };
}

export const smartCity: Fleet = {
  name: 'smart-city',
  idTag: 'city',
  summary: 'street-side sensors: air quality, noise, traffic counters, parking, street lights',
  schemaFile: 'smart-city.avsc',
  defaultKafkaTopic: 'iot.smart-city.readings',
  defaultRatePerS: 1,
  typedField: 'noiseDba',
  create: createSensor,
};
