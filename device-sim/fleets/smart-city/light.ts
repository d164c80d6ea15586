// Street light with a photocell: on when the sun is below the horizon (with hysteresis, like a
// real photocell), dimmed to 50 % between midnight and 05:00 local time. Reports the energy used
// in the interval: rated power × dimming × interval, or the controller's standby draw when off.
import { round } from '../../random.ts';
import { localTime } from '../../world/daily.ts';
import { sunElevationDeg } from '../../world/sun.ts';
import type { SensorContext, SensorStep } from './sensor.ts';

const SWITCH_ON_BELOW_DEG = -1.5;
const SWITCH_OFF_ABOVE_DEG = -0.5;
const STANDBY_W = 0.6;

export function streetLight(ctx: SensorContext, offsetMin: number, startMs: number): SensorStep {
  const { rng, position, stepS } = ctx;
  const ratedW = rng.pick([35, 50, 70, 100, 150]);
  let on = sunElevationDeg(startMs, position) < (SWITCH_ON_BELOW_DEG + SWITCH_OFF_ABOVE_DEG) / 2;
  return (timeMs) => {
    const elevation = sunElevationDeg(timeMs, position);
    if (on && elevation > SWITCH_OFF_ABOVE_DEG) on = false;
    else if (!on && elevation < SWITCH_ON_BELOW_DEG) on = true;
    const hour = localTime(timeMs, offsetMin).hour;
    const dimPct = on ? (hour < 5 ? 50 : 100) : 0;
    const watts = on ? (ratedW * dimPct) / 100 : STANDBY_W;
    return { lightOn: on, lightDimPct: dimPct, lightEnergyWh: round((watts * stepS) / 3600, 4) };
  };
}
