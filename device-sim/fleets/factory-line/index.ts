// factory-line: machine tools on production lines in a few plants, reporting several times a
// second (state, spindle speed and load, power, vibration, bearing temperature, part counter).
// Topic: factory/{plant}/{line}/{machineId}/telemetry; schema: schemas/factory-line.avsc.
import type { DeviceContext, DeviceModel, Fleet } from '../fleet.ts';
import { Machine } from './machine.ts';

const PLANTS = ['plant-1', 'plant-2', 'plant-3'];
const LINES = ['line-a', 'line-b', 'line-c', 'line-d'];

function createMachine(ctx: DeviceContext): DeviceModel {
  const { rng, stepS } = ctx;
  const plant = rng.pick(PLANTS);
  const line = rng.pick(LINES);
  const machine = new Machine(rng, stepS);
  return {
    topic: `factory/${plant}/${line}/${ctx.deviceId}/telemetry`,
    next: () => ({ ...machine.step() }),
  };
}

export const factoryLine: Fleet = {
  name: 'factory-line',
  idTag: 'machine',
  summary: 'machine tools with a state machine, spindle, vibration, temperature and part counter',
  schemaFile: 'factory-line.avsc',
  defaultKafkaTopic: 'iot.factory.telemetry',
  defaultRatePerS: 5,
  typedField: 'temperatureC',
  create: createMachine,
};
