// One machine tool: its state, spindle, vibration, bearing temperature, power and part counter.
//
// - running: the spindle ramps to the job's set speed; load varies with the cut; parts come off
//   at the job's cycle time; the bearing warms towards its running temperature.
// - idle / maintenance: spindle stopped, the machine cools down; maintenance ends with the part
//   counter reset (the counter counts since the last service).
// - fault: the spindle stops; a fault code says why. Bearing faults are preceded by rising
//   vibration (ISO 10816: > 4.5 mm/s unsatisfactory, > 7.1 unacceptable), overtemperature
//   faults by a rising bearing temperature.
import type { Random } from '../../random.ts';
import { clamp, round } from '../../random.ts';
import { DWELL_S, FAULTS, type FaultCode, type MachineState, START_MIX, TRANSITIONS } from './states.ts';

export interface MachineKind {
  readonly name: string;
  readonly rpm: readonly [number, number];
  readonly ratedKw: number;
  readonly cycleS: readonly [number, number];
}

export const MACHINE_KINDS: readonly MachineKind[] = [
  { name: 'cnc-mill', rpm: [6000, 18000], ratedKw: 15, cycleS: [60, 240] },
  { name: 'lathe', rpm: [800, 3500], ratedKw: 11, cycleS: [30, 120] },
  { name: 'grinder', rpm: [1500, 6000], ratedKw: 7.5, cycleS: [90, 300] },
];

const AMBIENT_C = 22;
const THERMAL_TAU_S = 600;
const SPIN_UP_RPM_S = 1500;
const SPIN_DOWN_RPM_S = 3000;
/** How long before a fault it starts to show (at most the whole running period), model s. */
const PRECURSOR_S = 900;

export interface MachineReading {
  state: MachineState;
  spindleSpeedRpm: number;
  spindleLoadPct: number;
  powerKw: number;
  vibrationRmsMmS: number;
  temperatureC: number;
  partCount: number;
  faultCode: FaultCode | null;
}

export class Machine {
  readonly kind: MachineKind;
  readonly #rng: Random;
  readonly #stepS: number;
  readonly #baseVibration: number;
  readonly #baseKw: number;
  #state: MachineState;
  #next: MachineState;
  #dwellS: number;
  #elapsedS: number;
  #fault: FaultCode | null = null;
  #comingFault: FaultCode | null = null;
  #setRpm = 0;
  #rpm = 0;
  #cycleS = 60;
  #progress = 0;
  #parts: number;
  #tempC: number;
  #load = 0;

  constructor(rng: Random, stepS: number) {
    this.#rng = rng;
    this.#stepS = stepS;
    this.kind = rng.pick(MACHINE_KINDS);
    this.#baseVibration = rng.range(0.6, 1.6);
    this.#baseKw = rng.range(0.8, 2.2);
    this.#parts = rng.int(0, 2000);
    this.#state = rng.weighted(START_MIX);
    this.#next = this.#state;
    this.#dwellS = 0;
    this.#elapsedS = 0;
    this.#enter(this.#state, true);
    // Start part-way through the state, not at its beginning.
    this.#elapsedS = rng.range(0, this.#dwellS);
    if (this.#state === 'running') {
      this.#rpm = this.#setRpm;
      this.#load = rng.range(0.35, 0.85);
    }
    this.#tempC = this.#state === 'running' ? AMBIENT_C + rng.range(15, 30) : AMBIENT_C + rng.range(0, 8);
  }

  get state(): MachineState {
    return this.#state;
  }

  #enter(state: MachineState, initial = false): void {
    const rng = this.#rng;
    const prev = this.#state;
    this.#state = state;
    this.#elapsedS = 0;
    const { mean, min } = DWELL_S[state];
    this.#dwellS = min + rng.exponential(mean - min);
    this.#next = rng.weighted(TRANSITIONS[state] as Record<MachineState, number>);
    this.#fault = state === 'fault' ? (this.#comingFault ?? 'E110') : null;
    this.#comingFault = null;
    if (state === 'running') {
      const [lo, hi] = this.kind.rpm;
      this.#setRpm = Math.round(rng.range(lo, hi) / 10) * 10;
      this.#cycleS = rng.range(this.kind.cycleS[0], this.kind.cycleS[1]);
      if (this.#next === 'fault') this.#comingFault = rng.pick(Object.keys(FAULTS) as FaultCode[]);
    }
    if (!initial && prev === 'maintenance' && state === 'idle') {
      this.#parts = 0;
      this.#progress = 0;
    }
  }

  /** Advances one step and returns the reading at its end. At most one state change per step. */
  step(): MachineReading {
    const rng = this.#rng;
    const dt = this.#stepS;
    this.#elapsedS += dt;
    const wasRunning = this.#state === 'running';
    if (this.#elapsedS >= this.#dwellS) this.#enter(this.#next);
    const state = this.#state;
    const running = state === 'running';

    // Spindle: ramps towards the set speed while running, spins down otherwise.
    const target = running ? this.#setRpm : 0;
    const rate = target > this.#rpm ? SPIN_UP_RPM_S : SPIN_DOWN_RPM_S;
    const delta = clamp(target - this.#rpm, -rate * dt, rate * dt);
    this.#rpm += delta;
    const rpm = this.#rpm > 0 ? this.#rpm * (1 + rng.normal(0, 0.003)) : 0;

    // Parts come off while the machine ran during the step.
    if (wasRunning || running) {
      this.#progress += (dt / this.#cycleS) * rng.range(0.9, 1.1);
      while (this.#progress >= 1) {
        this.#parts++;
        this.#progress -= 1;
      }
    }

    const window = Math.min(this.#dwellS, PRECURSOR_S);
    const precursor =
      running && this.#comingFault !== null
        ? clamp((this.#elapsedS - (this.#dwellS - window)) / window, 0, 1)
        : 0;

    // Load and power.
    this.#load = running ? clamp(0.85 * this.#load + 0.15 * rng.range(0.35, 0.85), 0.2, 1) : 0;
    const spinning = this.#rpm / Math.max(1, this.kind.rpm[1]);
    const powerKw =
      state === 'maintenance'
        ? 0.2
        : this.#baseKw +
          this.kind.ratedKw * (running ? this.#load : 0.1 * spinning) * (1 + rng.normal(0, 0.02));

    // Bearing temperature: first-order lag towards the state's equilibrium.
    const overheat = this.#comingFault === 'E305' || this.#comingFault === 'E412' ? 35 * precursor : 0;
    const equilibrium = AMBIENT_C + (running ? 12 + 28 * this.#load : 0) + overheat;
    this.#tempC += (equilibrium - this.#tempC) * (1 - Math.exp(-dt / THERMAL_TAU_S));

    // Vibration velocity RMS.
    const wear = this.#comingFault === 'E201' ? 9 * precursor * precursor : 0;
    const vibration =
      this.#rpm > 1
        ? this.#baseVibration * (0.4 + 0.6 * spinning) * (1 + 0.5 * this.#load) + wear + rng.normal(0, 0.08)
        : rng.range(0.03, 0.2); // the hall's floor vibration

    return {
      state,
      spindleSpeedRpm: round(rpm, 0),
      spindleLoadPct: round(this.#load * 100 * (running ? 1 + rng.normal(0, 0.03) : 0), 1),
      powerKw: round(Math.max(0, powerKw), 2),
      vibrationRmsMmS: round(Math.max(0.02, vibration), 2),
      temperatureC: round(this.#tempC + rng.normal(0, 0.1), 1),
      partCount: this.#parts,
      faultCode: this.#fault,
    };
  }
}
