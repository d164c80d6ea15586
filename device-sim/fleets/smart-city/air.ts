// Air quality station: PM2.5, PM10 and NO2 in µg/m³. Particulates follow slow pollution episodes
// (weather) and the traffic rhythm; NO2 follows traffic more closely. PM10 always includes PM2.5.
// Typical urban values: PM2.5 5–35, PM10 10–50, NO2 10–80 µg/m³.
import { clamp, round } from '../../random.ts';
import { localTime, trafficProfile } from '../../world/daily.ts';
import { battery, drift, type SensorContext, type SensorStep } from './sensor.ts';

export function airSensor(ctx: SensorContext, offsetMin: number): SensorStep {
  const { rng, site, stepS } = ctx;
  const basePm25 = rng.range(5, 11) * site.pollution;
  const coarseRatio = rng.range(1.3, 2.1);
  const episode = drift(rng, stepS, 3 * 3600, 0.35); // log-scale, hours long
  const ratioDrift = drift(rng, stepS, 1800, 0.12);
  const drain = battery(rng, stepS);
  return (timeMs) => {
    const traffic = trafficProfile(localTime(timeMs, offsetMin)) * site.traffic;
    const e = episode();
    const pm25 = clamp(basePm25 * Math.exp(e) * (0.55 + 0.75 * traffic) + rng.normal(0, 0.6), 0.5, 500);
    const pm10 = clamp(pm25 * Math.max(1.05, coarseRatio + ratioDrift()) + rng.normal(0, 0.8), pm25, 600);
    const no2 = clamp((6 + 45 * traffic) * Math.exp(0.5 * e) + rng.normal(0, 1.5), 0, 400);
    return {
      pm25UgM3: round(pm25, 1),
      pm10UgM3: round(Math.max(pm10, round(pm25, 1)), 1),
      no2UgM3: round(no2, 1),
      batteryPct: drain(),
    };
  };
}
