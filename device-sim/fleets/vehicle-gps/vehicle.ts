// One vehicle: drives its road path with plausible acceleration and braking, slows for turns,
// stops at traffic lights, stops and depots; uses fuel or charge per km and refuels or charges
// when low. What it reports carries GPS error: a position noise that wanders slowly (as real
// receivers' does), a little speed noise, and a heading that holds while standing still.
import type { Random } from '../../random.ts';
import { clamp, round } from '../../random.ts';
import { bearingDeg, type Enu } from '../../world/geo.ts';
import { ENGINE_OFF_AFTER_S, type Energy, type StopKind, type VehicleProfile } from './profiles.ts';
import { RoadWalker } from './road.ts';

const BRAKE_MS2 = 2.5;
const TURN_SPEED_MS = 20 / 3.6;
const MAX_SUBSTEP_S = 0.25;
const GPS_SIGMA_M = 2.5;
const GPS_TAU_S = 20;
const REFILL_BELOW_PCT = 15;
const IDLE_PCT_PER_S = 0.00008; // idling engine: a few litres a day
const MOVING_MS = 0.3;

export interface VehicleState {
  /** True position, local metres. */
  readonly position: Enu;
  readonly speedMs: number;
  readonly odometerM: number;
  readonly energyPct: number;
  readonly stop: StopKind | null;
}

export interface VehicleReading {
  position: Enu;
  speedKmh: number;
  headingDeg: number;
  odometerKm: number;
  energy: Energy;
  energyPct: number;
  ignitionOn: boolean;
  gpsAccuracyM: number;
  satellites: number;
}

export class Vehicle {
  readonly profile: VehicleProfile;
  readonly energy: Energy;
  readonly #rng: Random;
  readonly #walker: RoadWalker;
  readonly #stepS: number;
  readonly #pace: number;
  readonly #pctPerM: number;
  #s = 0; // metres along the current segment
  #v = 0; // m/s
  #odometerM: number;
  #energyPct: number;
  #stopAtEnd: { kind: StopKind; s: number } | null = null;
  #stop: { kind: StopKind; leftS: number; totalS: number; gainPctPerS: number } | null = null;
  #gps: { e: number; n: number };
  #heading: number;
  #satellites: number;

  constructor(rng: Random, profile: VehicleProfile, home: Enu, stepS: number) {
    this.#rng = rng;
    this.profile = profile;
    this.#stepS = stepS;
    this.energy = rng.pick(profile.energy);
    this.#pctPerM = 100 / (rng.range(profile.rangeKm[0], profile.rangeKm[1]) * 1000);
    this.#pace = rng.range(profile.pace[0], profile.pace[1]);
    this.#walker = new RoadWalker(rng, {
      home,
      homeRadiusM: profile.homeRadiusM,
      gridAngleDeg: rng.range(0, 90),
      classMix: profile.classMix,
    });
    this.#odometerM = rng.range(5_000, 250_000) * 1000;
    this.#energyPct = rng.range(30, 100);
    this.#s = rng.range(0, this.#walker.current.lengthM);
    this.#v = rng.chance(0.8) ? this.#cruise() * rng.range(0.5, 1) : 0;
    this.#gps = { e: rng.normal(0, GPS_SIGMA_M), n: rng.normal(0, GPS_SIGMA_M) };
    this.#heading = this.#walker.current.headingDeg;
    this.#satellites = rng.int(7, 12);
    // No stop at the end of the first segment: the vehicle may start too close to brake for it.
    this.#stopAtEnd = null;
  }

  /** The true state (tests check continuity on it). */
  get state(): VehicleState {
    return {
      position: this.#truePosition(),
      speedMs: this.#v,
      odometerM: this.#odometerM,
      energyPct: this.#energyPct,
      stop: this.#stop?.kind ?? null,
    };
  }

  #cruise(): number {
    return (this.#walker.current.road.limitKmh / 3.6) * this.#pace;
  }

  #truePosition(): Enu {
    const seg = this.#walker.current;
    const f = seg.lengthM === 0 ? 0 : this.#s / seg.lengthM;
    return { e: seg.from.e + (seg.to.e - seg.from.e) * f, n: seg.from.n + (seg.to.n - seg.from.n) * f };
  }

  /** Decides whether the vehicle stops at the end of the current segment, and how. */
  #planStop(): void {
    const rng = this.#rng;
    if (this.#energyPct < REFILL_BELOW_PCT) {
      const kind: StopKind = this.energy === 'fuel' ? 'refuel' : 'charge';
      this.#stopAtEnd = { kind, s: kind === 'refuel' ? rng.range(240, 480) : rng.range(1200, 2700) };
      return;
    }
    this.#stopAtEnd = null;
    for (const [kind, stop] of Object.entries(this.profile.stops) as Array<
      [StopKind, { p: number; s: [number, number] }]
    >) {
      if (rng.chance(stop.p)) {
        this.#stopAtEnd = { kind, s: rng.range(stop.s[0], stop.s[1]) };
        return;
      }
    }
  }

  #beginStop(kind: StopKind, durationS: number): void {
    const target =
      kind === 'refuel'
        ? this.#rng.range(95, 100)
        : kind === 'charge'
          ? this.#rng.range(80, 92)
          : this.#energyPct;
    this.#stop = {
      kind,
      leftS: durationS,
      totalS: durationS,
      gainPctPerS: Math.max(0, target - this.#energyPct) / durationS,
    };
  }

  #substep(h: number): void {
    if (this.#stop !== null) {
      const stop = this.#stop;
      this.#v = 0;
      this.#energyPct = Math.min(100, this.#energyPct + stop.gainPctPerS * h);
      if (this.energy === 'fuel' && stop.totalS <= ENGINE_OFF_AFTER_S) this.#energyPct -= IDLE_PCT_PER_S * h;
      stop.leftS -= h;
      if (stop.leftS <= 0) this.#stop = null;
      return;
    }
    const seg = this.#walker.current;
    const remaining = seg.lengthM - this.#s;
    const next = this.#walker.upcoming;
    const turning = Math.abs(((next.headingDeg - seg.headingDeg + 540) % 360) - 180) > 10;
    const vEnd =
      this.#stopAtEnd !== null ? 0 : turning ? TURN_SPEED_MS : (next.road.limitKmh / 3.6) * this.#pace;
    // The speed from which the vehicle can still slow to vEnd by the line (looking one substep ahead).
    const canStopIn = Math.sqrt(vEnd * vEnd + 2 * BRAKE_MS2 * Math.max(0, remaining - 1 - this.#v * h));
    const desired = Math.min(this.#cruise(), canStopIn);
    const v0 = this.#v;
    let v1 =
      v0 < desired
        ? Math.min(desired, v0 + this.profile.accelMs2 * h)
        : Math.max(desired, v0 - 2 * BRAKE_MS2 * h);
    if (this.#stopAtEnd !== null && remaining < 3) v1 = Math.max(v1, 1); // creep up to the line
    const ds = ((v0 + v1) / 2) * h;
    this.#v = v1;
    const travelled = this.#stopAtEnd !== null ? Math.min(ds, remaining) : ds;
    this.#odometerM += travelled;
    this.#energyPct = Math.max(0, this.#energyPct - travelled * this.#pctPerM);
    if (ds < remaining) {
      this.#s += ds;
      return;
    }
    // Reached the intersection.
    const overshoot = ds - remaining;
    if (this.#stopAtEnd !== null) {
      this.#s = seg.lengthM;
      this.#v = 0;
      const { kind, s } = this.#stopAtEnd;
      this.#walker.advance();
      this.#s = 0;
      this.#planStop();
      this.#beginStop(kind, s);
      return;
    }
    this.#walker.advance();
    this.#s = Math.min(overshoot, this.#walker.current.lengthM / 2);
    this.#planStop();
  }

  /** Advances one reporting step and returns what the tracker reports at its end. */
  step(): VehicleReading {
    const rng = this.#rng;
    const n = Math.max(1, Math.ceil(this.#stepS / MAX_SUBSTEP_S));
    const h = this.#stepS / n;
    for (let i = 0; i < n; i++) this.#substep(h);

    // GPS error: AR(1) per axis with a 20 s correlation time.
    const phi = Math.exp(-this.#stepS / GPS_TAU_S);
    const kick = GPS_SIGMA_M * Math.sqrt(1 - phi * phi);
    this.#gps = { e: phi * this.#gps.e + rng.normal(0, kick), n: phi * this.#gps.n + rng.normal(0, kick) };
    const truth = this.#truePosition();
    const moving = this.#v > MOVING_MS;
    if (moving) {
      const seg = this.#walker.current;
      const course = bearingDeg(seg.to.e - seg.from.e, seg.to.n - seg.from.n);
      this.#heading = (course + rng.normal(0, 1.5) + 360) % 360;
    }
    if (rng.chance(0.05)) this.#satellites = clamp(this.#satellites + rng.int(-1, 1), 5, 14);
    const stop = this.#stop;
    return {
      position: { e: truth.e + this.#gps.e, n: truth.n + this.#gps.n },
      speedKmh: moving ? round(Math.max(0, this.#v * 3.6 + rng.normal(0, 0.4)), 1) : 0,
      headingDeg: round(this.#heading, 1) % 360,
      odometerKm: round(this.#odometerM / 1000, 3),
      energy: this.energy,
      energyPct: round(clamp(this.#energyPct, 0, 100), 1),
      ignitionOn: stop === null || stop.totalS <= ENGINE_OFF_AFTER_S,
      gpsAccuracyM: round((GPS_SIGMA_M * 12) / this.#satellites + rng.range(-0.2, 0.2), 1),
      satellites: this.#satellites,
    };
  }
}
