// The fleets the simulator knows, by name.
import { factoryLine } from './factory-line/index.ts';
import type { Fleet, FleetName } from './fleet.ts';
import { smartCity } from './smart-city/index.ts';
import { vehicleGps } from './vehicle-gps/index.ts';

export const FLEETS: Readonly<Record<FleetName, Fleet>> = {
  'smart-city': smartCity,
  'factory-line': factoryLine,
  'vehicle-gps': vehicleGps,
};
