// Latency: publish → Kafka at fixed offered rates (1k and 10k msg/s by default), QoS 1 with the
// spool on, per Kafka client. Latency = Kafka's append time (the topic uses
// message.timestamp.type=LogAppendTime, so the broker stamps each record when it appends it)
// − the device's send time (`ts` in the payload, written by the raw publisher just before the
// write). Same machine, same clock; millisecond resolution. Every acknowledged message is also
// checked to be in Kafka.
//
//   node benchmarks/latency.ts [--quick] [--rates 1000,10000] [--duration MS] [--clients LIST]
import { publishRatePerConnection } from './lib/config.ts';
import { openBenchKafka } from './lib/kafka.ts';
import { kafkaClients, kafkaSource, num, parseCaseArgs } from './lib/options.ts';
import { runDir } from './lib/procs.ts';
import { runStep, startWeir, stepFigures } from './lib/step.ts';
import { writeResult } from './result.ts';

const values = parseCaseArgs({
  rates: { type: 'string', default: '1000,10000' },
  duration: { type: 'string' },
});
const quick = values.quick;
const RATES = values.rates.split(',').map(Number);
const DURATION = num(values.duration, quick ? 4000 : 20_000);
const CONNECTIONS = num(values.connections, 20);
const WINDOW = num(values.window, 200);
const clients = kafkaClients(values.clients);
const dir = runDir('latency');
const kafka = await openBenchKafka(kafkaSource(values));

try {
  const figures: Record<string, unknown> = {};
  const table: Array<[string, string | number]> = [];
  for (const client of clients) {
    let w: Awaited<ReturnType<typeof startWeir>>;
    try {
      w = await startWeir({
        dir,
        name: `latency-${client}`,
        brokers: kafka.brokers,
        client,
        ratePerConnection: publishRatePerConnection(Math.max(...RATES), CONNECTIONS),
      });
    } catch (err) {
      figures[client] = { error: (err as Error).message.slice(0, 500) };
      table.push([client, 'did not start']);
      continue;
    }
    const load = { qos: 1 as const, connections: CONNECTIONS, window: WINDOW };
    await runStep(w, { ...load, tag: `${client}-warm`, rate: 5000, durationMs: 2000 });
    const byRate: Record<string, unknown> = {};
    for (const rate of RATES) {
      const s = await runStep(w, { ...load, tag: `${client}-${rate}`, rate, durationMs: DURATION });
      byRate[String(rate)] = stepFigures(s);
      const l = s.kafka.latencyMs;
      table.push([
        `${client} at ${rate.toLocaleString('en')} msg/s: publish → Kafka p50 / p99 / max ms`,
        l === null
          ? 'no records'
          : `${l.p50} / ${l.p99} / ${l.max}${s.kafka.lost === 0 ? '' : s.drained ? ` (${s.kafka.lost} lost!)` : ` (spool not drained: ${s.kafka.lost} not in Kafka yet)`}`,
      ]);
      process.stderr.write(`latency: ${client} ${rate}/s p50 ${l?.p50} p99 ${l?.p99} lost ${s.kafka.lost}\n`);
    }
    figures[client] = byRate;
    await w.server.stop();
  }
  await writeResult(
    'latency',
    {
      quick,
      clients,
      rates: RATES,
      durationMs: DURATION,
      qos: 1,
      spool: 'on',
      connections: CONNECTIONS,
      window: WINDOW,
      latency: 'Kafka LogAppendTime − device send time (payload ts), ms',
      load: 'raw-publisher, paced',
      publishRatePerConnection: publishRatePerConnection(Math.max(...RATES), CONNECTIONS),
    },
    figures,
    table,
  );
} finally {
  await kafka.close();
}
