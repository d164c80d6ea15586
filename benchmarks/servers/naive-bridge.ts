// The baseline: an MQTT → Kafka bridge written the way such bridges commonly are. An mqtt.js
// client subscribes to the broker (QoS 1) and, for every message, awaits a kafkajs
// `producer.send` of that one message (acks=all) before it takes the next one (mqtt.js's
// handleMessage: the PUBACK to the broker follows the send). The JSON payload is forwarded as it
// is, keyed by the device id (the 4th topic level). Prints `{"benchReady": {...}}` once subscribed.
//
//   node benchmarks/servers/naive-bridge.ts --broker mqtt://HOST:PORT --kafka-brokers LIST --topic T
import process from 'node:process';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import mqtt from 'mqtt';
import { ignoreKafkajsNegativeTimeoutWarnings } from '../../gateway/sinks/kafka/kafkajs-warnings.ts';

const { values } = parseArgs({
  options: {
    broker: { type: 'string' },
    'kafka-brokers': { type: 'string' },
    topic: { type: 'string' },
    subscribe: { type: 'string', default: 'factory/#' },
  },
});
ignoreKafkajsNegativeTimeoutWarnings();
const kafka = new kafkajs.Kafka({
  clientId: 'naive-bridge',
  brokers: values['kafka-brokers']!.split(','),
  logLevel: kafkajs.logLevel.NOTHING,
});
const producer = kafka.producer();
await producer.connect();
const topic = values.topic!;
let forwarded = 0;
const client = await mqtt.connectAsync(values.broker!, {
  clientId: `naive-bridge-${process.pid}`,
  clean: true,
});
client.handleMessage = (packet, callback) => {
  producer
    .send({
      topic,
      acks: -1,
      messages: [{ key: packet.topic.split('/')[3] ?? null, value: packet.payload as Buffer }],
    })
    .then(
      () => {
        forwarded++;
        callback();
      },
      (err: Error) => callback(err),
    );
};
await client.subscribeAsync(values.subscribe, { qos: 1 });
process.stdout.write(`${JSON.stringify({ benchReady: { pid: process.pid } })}\n`);
process.once('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ benchStopped: { forwarded } })}\n`);
  process.exit(0);
});
