// Traffic counter (induction loop or radar) on one road: vehicles counted in the interval and
// their average speed. Flow follows the rush hours; speed drops as the road fills up.
import { clamp, round } from '../../random.ts';
import { localTime, trafficProfile } from '../../world/daily.ts';
import type { SensorContext, SensorStep } from './sensor.ts';

export function trafficCounter(ctx: SensorContext, offsetMin: number): SensorStep {
  const { rng, site, stepS } = ctx;
  const peakPerHour = rng.range(400, 1800) * site.traffic;
  const freeFlowKmh = rng.pick([30, 50, 50, 50, 60, 70]);
  return (timeMs) => {
    const load = trafficProfile(localTime(timeMs, offsetMin));
    const count = rng.poisson((peakPerHour * load * stepS) / 3600);
    const speed =
      count === 0
        ? null
        : round(clamp(freeFlowKmh * (1 - 0.55 * load * load) + rng.normal(0, 3), 5, freeFlowKmh * 1.25), 1);
    return { vehicleCount: count, avgSpeedKmh: speed };
  };
}
