// The intake: what the source calls for every PUBLISH. Router → decoder/encoder → record queue
// (the spool, or the batcher directly), or the dead-letter path with a reason. It never rejects a
// message for its content: bad input becomes a dead letter and the device is acknowledged as
// usual, so one device's bad payload cannot disturb anyone. It refuses only a publish into a topic
// whose key segment is another device's id (see Intake in contracts.ts).
import type {
  InboundMessage,
  Intake,
  OutboundRecord,
  RecordHeaders,
  RecordOrigin,
  RecordQueue,
  Settle,
} from '../contracts.ts';
import type { DeadLetterEncoder } from '../deadletter/deadletter.ts';
import { WeirError } from '../errors.ts';
import { type Metrics, NO_ROUTE, type RouteTraffic } from '../metrics.ts';
import type { Router } from '../router/router.ts';
import { PropertyHeaders, SETS_IN_ALL, type SetBudget } from './property-headers.ts';
import type { CompiledRoute } from './routes.ts';

/** A topic's route, the fields its levels give, and the key and headers its records share. */
interface TopicTarget {
  readonly route: CompiledRoute;
  readonly segments: Readonly<Record<string, string>>;
  readonly traffic: RouteTraffic;
  readonly key: Buffer;
  readonly headers: RecordHeaders;
  /** The headers of its MQTT 5 messages with properties; made with the first such message. */
  properties: PropertyHeaders | null;
  /** The origin of the topic's last record: reused while the client and QoS stay the same. */
  origin: RecordOrigin | null;
}

/** Topics remembered by the intake (one per device, typically): about 200 bytes each. */
const TOPIC_CACHE_ENTRIES = 16_384;

/** One instance: a refusal is frequent under attack, and its stack says nothing. */
const UNAUTHORIZED = new WeirError(
  'WEIR_UNAUTHORIZED',
  "publish refused: the topic's key segment is not the device's own id",
);

export class RoutingIntake implements Intake {
  readonly #router: Router<CompiledRoute>;
  readonly #queue: RecordQueue;
  readonly #deadLetters: DeadLetterEncoder;
  readonly #metrics: Metrics;
  /** Per-route tallies, bound once per route: counting a message is two additions. */
  readonly #traffic = new Map<CompiledRoute, RouteTraffic>();
  readonly #unrouted: RouteTraffic;
  readonly #targets = new Map<string, TopicTarget>();
  /** How many more MQTT 5 property sets the cached topics may remember (property-headers.ts). */
  readonly #propertySets: SetBudget = { left: SETS_IN_ALL };

  readonly #onUnauthorized: (msg: InboundMessage, route: string) => void;

  constructor(
    router: Router<CompiledRoute>,
    queue: RecordQueue,
    deadLetters: DeadLetterEncoder,
    metrics: Metrics,
    /** Told of each refused publish (after it is counted); for a rate-limited log line. */
    onUnauthorized: (msg: InboundMessage, route: string) => void = () => {},
  ) {
    this.#onUnauthorized = onUnauthorized;
    this.#router = router;
    this.#queue = queue;
    this.#deadLetters = deadLetters;
    this.#metrics = metrics;
    this.#unrouted = metrics.traffic(NO_ROUTE);
  }

  accept(msg: InboundMessage, settle: Settle): void {
    const target = this.#resolve(msg.topic);
    const traffic = target === null ? this.#unrouted : target.traffic;
    traffic.messages[msg.qos] += 1;
    traffic.bytes[msg.qos] += msg.payload.length;
    if (target === null) {
      this.#deadLetter(msg, null, 'no_route', 'no route matches the topic', settle);
      return;
    }
    const { route, segments } = target;
    // ACL: a device that logged in publishes only as itself (gateway/auth/acl.ts).
    if (msg.identity !== null && segments[route.keySegment] !== msg.identity) {
      this.#metrics.dropped.inc({ reason: 'unauthorized' });
      this.#onUnauthorized(msg, route.name);
      settle(UNAUTHORIZED);
      return;
    }
    const decoded = route.decoder.decode(msg.payload, segments, msg.receivedAt);
    if (!decoded.ok) {
      this.#deadLetter(msg, route.name, decoded.reason, decoded.detail, settle);
      return;
    }
    let origin = target.origin;
    if (origin === null || origin.clientId !== msg.clientId || origin.qos !== msg.qos) {
      origin = { clientId: msg.clientId, qos: msg.qos, route: route.name };
      target.origin = origin;
    }
    // Without MQTT 5 properties (every 3.1.1 message) the record shares its topic's headers.
    let headers = target.headers;
    if (msg.userProperties !== undefined || msg.contentType !== undefined) {
      target.properties ??= new PropertyHeaders(target.headers, this.#propertySets);
      headers = target.properties.get(msg.userProperties, msg.contentType);
    }
    const record: OutboundRecord =
      msg.expiresAt === undefined
        ? { key: target.key, value: decoded.value, headers, timestamp: msg.receivedAt, origin }
        : {
            key: target.key,
            value: decoded.value,
            headers,
            timestamp: msg.receivedAt,
            expiresAt: msg.expiresAt,
            origin,
          };
    this.#queue.enqueue(route.kafkaTopic, record, msg.qos, settle);
  }

  /**
   * What a topic resolves to. Devices publish to the same few topics over and over, so the
   * route match, the key and the headers are computed once per topic and shared by its records
   * (records are immutable). Bounded: the cache starts over when full. Topics no route matches
   * are not cached, so random topics cannot evict the devices' ones.
   */
  #resolve(topic: string): TopicTarget | null {
    const cached = this.#targets.get(topic);
    if (cached !== undefined) return cached;
    const match = this.#router.match(topic);
    if (match === null) return null;
    const { route, segments } = match;
    const target: TopicTarget = {
      route,
      segments,
      traffic: this.#trafficOf(route),
      key: Buffer.from(segments[route.keySegment]!),
      headers: { ...route.fixedHeaders, 'mqtt-topic': Buffer.from(topic) },
      properties: null,
      origin: null,
    };
    if (this.#targets.size >= TOPIC_CACHE_ENTRIES) {
      this.#targets.clear();
      this.#propertySets.left = SETS_IN_ALL;
    }
    this.#targets.set(topic, target);
    return target;
  }

  #trafficOf(route: CompiledRoute): RouteTraffic {
    let t = this.#traffic.get(route);
    if (t === undefined) {
      t = this.#metrics.traffic(route.name);
      this.#traffic.set(route, t);
    }
    return t;
  }

  #deadLetter(
    msg: InboundMessage,
    route: string | null,
    reason: 'invalid_json' | 'schema_mismatch' | 'no_route',
    detail: string,
    settle: Settle,
  ): void {
    this.#metrics.deadLetters.inc({ reason });
    const record = this.#deadLetters.encode({
      reason,
      detail,
      mqttTopic: msg.topic,
      clientId: msg.clientId,
      qos: msg.qos,
      route,
      payload: msg.payload,
      receivedAt: msg.receivedAt,
    });
    this.#queue.enqueue(this.#deadLetters.topic, record, msg.qos, settle);
  }
}
