// `weir sim --help`.
import { FLEET_NAMES } from './fleets/fleet.ts';
import { FLEETS } from './fleets/index.ts';
import { DEFAULT_REPORT } from './options.ts';

export const SIM_HELP = `usage: weir sim [options]

Simulates device fleets: every device is its own MQTT connection (its own client id, a
persistent session), publishing JSON readings of its fleet's schema with seq from 1. Prints one
status line per second and writes a report of what each device sent and had acknowledged, for
\`weir verify\`. Runs until --duration or --count is reached, or until Ctrl-C.

fleets:
${FLEET_NAMES.map((f) => `  ${f.padEnd(13)} ${FLEETS[f].summary} (default ${FLEETS[f].defaultRatePerS}/s)`).join('\n')}

options:
  --fleet MIX              a fleet, 'mixed' (default: equal thirds), or weights:
                           smart-city=5,factory-line=2,vehicle-gps=3
  --devices N              number of devices (default 30; 10,000 in one process work)
  --rate R                 messages per second per device: 2, 2/s, 30/min; or per fleet:
                           factory-line=10,smart-city=1/min (default: the fleet's rate)
  --duration D             stop after D (30s, 5m, 1h)
  --count N                stop after N messages per device
  --qos 0|1|2              MQTT QoS (default 1)
  --ramp-up D              spread the first connects over D (default 0: as fast as allowed)
  --connect-concurrency N  connects in progress at once (default 100)
  --broker URL             mqtt://, mqtts://, ws:// or wss:// (default mqtt://127.0.0.1:1883)
  --username U             MQTT user name
  --password P             MQTT password (or env WEIR_SIM_PASSWORD)
faults:
  --churn R                share of devices that lose their connection per minute (0.1 or 10%),
                           just after sending (no DISCONNECT, a message in flight)
  --churn-downtime D       how long a dropped device stays offline (default 5s, ±50 %)
  --invalid-ratio R        share of messages that are malformed (dead letters at the gateway)
  --oversize-ratio R       share of messages over the packet limit (sent with QoS 0; the
                           gateway closes the connection and the device reconnects)
  --oversize-bytes N       size of an oversize payload (default 300000)
devices:
  --seed N                 random seed: the same seed gives the same devices and readings
                           (default: random, printed)
  --start-time ISO         model clock of the first reading (default: now)
  --time-warp X            model seconds per real second (default 1)
  --center LAT,LON         centre of the simulated city (default 52.52,13.405)
  --id-prefix P            device ids P-<fleet>-<n> (default sim + 6 random hex digits)
  --max-inflight N         unacknowledged messages per device before it skips readings (default 100)
  --keepalive S            MQTT keepalive, seconds (default 60)
output:
  --report FILE            where to write the report (default ${DEFAULT_REPORT})
  --drain-timeout D        at the end, wait this long for outstanding acknowledgements (default 15s)
  --quiet                  no status lines
  -h, --help               this help

Exit codes: 0 every device connected and every QoS 1/2 message was acknowledged; 1 otherwise
(the report says which); 2 usage errors.
`;
