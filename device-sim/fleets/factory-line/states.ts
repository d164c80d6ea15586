// The machine state machine (semi-Markov): each state lasts a random time (exponential around a
// mean, with a floor), then moves to one of its allowed successors. The successor is chosen on
// entry, so a coming fault can announce itself — vibration or temperature rise before it, as
// condition monitoring expects.

export const MACHINE_STATES = ['running', 'idle', 'fault', 'maintenance'] as const;
export type MachineState = (typeof MACHINE_STATES)[number];

/** Allowed successors and their probabilities. Nothing else ever follows a state. */
export const TRANSITIONS: Readonly<Record<MachineState, Readonly<Partial<Record<MachineState, number>>>>> = {
  running: { idle: 0.8, fault: 0.12, maintenance: 0.08 }, // job done · breakdown · planned service
  idle: { running: 0.9, maintenance: 0.1 }, // next job · planned service
  fault: { maintenance: 0.55, idle: 0.45 }, // technician called · operator reset
  maintenance: { idle: 1 }, // back to the line, waiting for a job
};

/** Mean and minimum time in each state, model seconds. */
export const DWELL_S: Readonly<Record<MachineState, { readonly mean: number; readonly min: number }>> = {
  running: { mean: 1800, min: 120 },
  idle: { mean: 300, min: 20 },
  fault: { mean: 300, min: 60 },
  maintenance: { mean: 1500, min: 600 },
};

/** Long-run share of time in each state, used to start machines in a realistic mix. */
export const START_MIX: Readonly<Record<MachineState, number>> = {
  running: 70,
  idle: 17,
  fault: 3,
  maintenance: 10,
};

export function isAllowedTransition(from: MachineState, to: MachineState): boolean {
  return from === to || TRANSITIONS[from][to] !== undefined;
}

export const FAULTS = {
  E201: 'bearing damage (vibration)',
  E305: 'spindle overtemperature',
  E110: 'tool breakage',
  E412: 'coolant pressure low',
} as const;
export type FaultCode = keyof typeof FAULTS;
