// What the device front end reports of the limits it enforces (`FrontEndEvents`), counted in the
// source's metrics and warned about in the log — at most one warning per kind per 10 s, with the
// limit that was hit; counts belong in metrics, not in log lines.
import type { Logger } from 'pino';
import type { LimitsConfig } from '../config/schema.ts';
import { rateLimited } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { FrontEndEvents } from './front-end/types.ts';

export function limitEvents(
  o: { readonly limits: LimitsConfig; readonly maxPacketBytes: number; readonly connectTimeoutMs: number },
  metrics: Metrics,
  log: Logger,
): Required<Omit<FrontEndEvents, 'loginRefused'>> {
  const { limits } = o;
  const rate = limits.publishRate;
  const warn = (what: string, fields: Record<string, unknown>) =>
    rateLimited(10_000, (suppressed) => log.warn({ ...fields, suppressed }, what));
  const refusedLogs = {
    max_connections: warn('refused a connection: maxConnections reached', {
      maxConnections: limits.maxConnections,
    }),
    connect_timeout: warn('closed a connection that sent no CONNECT in time', {
      connectTimeoutMs: o.connectTimeoutMs,
    }),
    keepalive: warn('refused a CONNECT with a keepalive outside the bounds', {
      minKeepaliveSeconds: limits.minKeepaliveSeconds,
      maxKeepaliveSeconds: limits.maxKeepaliveSeconds,
    }),
    max_subscriptions: warn('closed a connection that subscribed to too many topic filters', {
      maxSubscriptions: limits.maxSubscriptions,
    }),
  };
  const logTooLarge = warn('closed a connection that sent a packet over the size limit', {
    maxPacketBytes: o.maxPacketBytes,
  });
  const logTopic = warn('refused a publish to a topic over the limits', {
    maxTopicBytes: limits.maxTopicBytes,
    maxTopicLevels: limits.maxTopicLevels,
  });
  const logRate = warn('a connection published faster than its rate limit', {
    ratePerSecond: rate.ratePerSecond,
    whenExceeded: rate.whenExceeded,
  });

  return {
    refused(reason) {
      metrics.connectionsRefused.inc({ reason });
      refusedLogs[reason]();
    },
    dropped(reason) {
      metrics.dropped.inc({ reason });
      if (reason === 'too_large') logTooLarge();
      else if (reason !== 'rate_limited') logTopic();
    },
    rateLimited(action) {
      metrics.rateLimited[action]++;
      logRate();
    },
    subscriberSkipped() {
      metrics.subscriberSkipped.inc();
    },
  };
}
