// Logging: one pino root writing JSON lines to stdout (journald-friendly); one child per stage.
// Context goes in fields, not in the message. Nothing is logged per message at info level.
import { type Logger, pino } from 'pino';

/**
 * Field paths that would hold a secret if some object carrying one were ever logged (the Kafka
 * client options, a config section): pino writes [redacted] instead. Secrets are kept out of
 * logged objects in the first place (gateway/config/kafka-security.ts); this is the second line.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'sasl.password',
  '*.sasl.password',
  'ssl.key',
  'tls.key',
  '*.ssl.key',
  '*.tls.key',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    { level, base: { service: 'weir' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    destination ?? pino.destination({ sync: false }),
  );
}

/**
 * Logs at most one line per interval for a recurring event, with how many occurrences it covers.
 * For events a misbehaving device can trigger at will.
 */
export function rateLimited(intervalMs: number, emit: (suppressed: number) => void): () => void {
  let last = 0;
  let suppressed = 0;
  return () => {
    const now = Date.now();
    if (now - last >= intervalMs) {
      last = now;
      emit(suppressed);
      suppressed = 0;
    } else {
      suppressed++;
    }
  };
}
