// vehicle-gps: GPS trackers in buses, delivery vans and taxis driving the city's streets.
// Topic: fleet/{fleetId}/vehicles/{vehicleId}/position; schema: schemas/vehicle-gps.avsc.
import { round } from '../../random.ts';
import { toLatLon } from '../../world/geo.ts';
import type { DeviceContext, DeviceModel, Fleet } from '../fleet.ts';
import { PROFILES, VEHICLE_MIX } from './profiles.ts';
import { Vehicle } from './vehicle.ts';

function createVehicle(ctx: DeviceContext): DeviceModel {
  const { rng, center, stepS } = ctx;
  const profile = PROFILES[rng.weighted(VEHICLE_MIX)];
  const vehicle = new Vehicle(rng, profile, { e: 0, n: 0 }, stepS);
  return {
    topic: `fleet/${profile.fleetId}/vehicles/${ctx.deviceId}/position`,
    next() {
      const r = vehicle.step();
      const at = toLatLon(center, r.position);
      return {
        latDeg: round(at.latDeg, 6),
        lonDeg: round(at.lonDeg, 6),
        speedKmh: r.speedKmh,
        headingDeg: r.headingDeg,
        odometerKm: r.odometerKm,
        batteryPct: r.energy === 'battery' ? r.energyPct : null,
        fuelPct: r.energy === 'fuel' ? r.energyPct : null,
        ignitionOn: r.ignitionOn,
        gpsAccuracyM: r.gpsAccuracyM,
        satellites: r.satellites,
      };
    },
  };
}

export const vehicleGps: Fleet = {
  name: 'vehicle-gps',
  idTag: 'vehicle',
  summary: 'GPS trackers in buses, delivery vans and taxis moving along city streets',
  schemaFile: 'vehicle-gps.avsc',
  defaultKafkaTopic: 'iot.vehicle.positions',
  defaultRatePerS: 1,
  typedField: 'speedKmh',
  create: createVehicle,
};
