// Noise monitor: A-weighted equivalent level (LAeq) and maximum (LAmax) over the interval, dB(A).
// Quiet nights around 40–45 dB(A), busy afternoons 60–70, louder in the centre; now and then an
// event (siren, construction) adds 6–18 dB for up to a minute.
import { clamp, round } from '../../random.ts';
import { activityProfile, localTime, trafficProfile } from '../../world/daily.ts';
import { battery, drift, type SensorContext, type SensorStep } from './sensor.ts';

const EVENT_EVERY_S = 900;

export function noiseSensor(ctx: SensorContext, offsetMin: number): SensorStep {
  const { rng, site, stepS } = ctx;
  const spot = rng.normal(0, 2); // this microphone's place: a quiet corner or a busy crossing
  const wander = drift(rng, stepS, 600, 1.5);
  const drain = battery(rng, stepS);
  let eventLeftS = 0;
  let eventDb = 0;
  return (timeMs) => {
    const t = localTime(timeMs, offsetMin);
    if (eventLeftS <= 0 && rng.chance(1 - Math.exp(-stepS / EVENT_EVERY_S))) {
      eventLeftS = rng.range(10, 60);
      eventDb = rng.range(6, 18);
    }
    const event = eventLeftS > 0 ? eventDb : 0;
    eventLeftS -= stepS;
    const base =
      40 + 20 * activityProfile(t) + 8 * trafficProfile(t) * site.traffic + site.noiseDb + spot + wander();
    // Energetic sum of the background and the event.
    const laeq = clamp(
      10 * Math.log10(10 ** (base / 10) + (event > 0 ? 10 ** ((base + event) / 10) : 0)) + rng.normal(0, 0.5),
      30,
      110,
    );
    const lamax = clamp(laeq + 3 + rng.exponential(3) + event * 0.3, laeq, 125);
    return { noiseDba: round(laeq, 1), noiseMaxDba: round(lamax, 1), batteryPct: drain() };
  };
}
