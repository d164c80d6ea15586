// From a PUBLISH to the message the intake gets: the topic (v5: through the connection's topic
// aliases) and the MQTT 5 properties weir carries on.
import type { IConnectPacket, IPublishPacket } from 'mqtt-packet';
import { REASON } from './protocol.ts';
import type { DeviceMessage } from './types.ts';

type PublishProperties = NonNullable<IPublishPacket['properties']>;
type WillProperties = NonNullable<NonNullable<IConnectPacket['will']>['properties']>;

/** The v5 properties a message carries on; `receivedAt` anchors the message expiry (none: not set). */
export function v5Fields(
  props: PublishProperties | WillProperties,
  receivedAt: number | undefined,
): Partial<DeviceMessage> {
  const out: {
    userProperties?: Readonly<Record<string, string | string[]>>;
    contentType?: string;
    payloadIsUtf8?: boolean;
    expiresAt?: number;
  } = {};
  if (props.userProperties !== undefined) out.userProperties = props.userProperties;
  if (props.contentType !== undefined) out.contentType = props.contentType;
  if (props.payloadFormatIndicator !== undefined) out.payloadIsUtf8 = props.payloadFormatIndicator;
  if (props.messageExpiryInterval !== undefined && receivedAt !== undefined) {
    out.expiresAt = receivedAt + props.messageExpiryInterval * 1000;
  }
  return out;
}

/**
 * A v5 connection's topic aliases (device → weir): an alias with a topic defines it, an alias
 * with an empty topic uses it. At most `maximum` of them (what CONNACK announced), so the map is
 * bounded.
 */
export class TopicAliases {
  readonly #maximum: number;
  readonly #topics = new Map<number, string>();

  constructor(maximum: number) {
    this.#maximum = maximum;
  }

  /** The PUBLISH's topic, or the v5 reason code the connection is closed with. */
  resolve(topic: string, alias: number): string | number {
    if (alias === 0 || alias > this.#maximum) return REASON.topicAliasInvalid;
    if (topic !== '') {
      this.#topics.set(alias, topic);
      return topic;
    }
    return this.#topics.get(alias) ?? REASON.protocolError; // an alias never defined [MQTT-3.3.2-8]
  }
}
