// A Kafka node's state dir before its JVM starts: the config files written (broker-properties.ts
// says what is in them), its KRaft storage formatted once, and the JVM command line that runs it.
//
// Layout of a node's state dir:
//   server.properties, log4j2.properties (or log4j.properties for 3.x), data/ (KRaft log dirs),
//   logs/kafka.out, kafka.pid, kafka.json (tools/local-service/process.ts).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exists, run, tail } from '../local-service/run.ts';
import { logConfig } from './broker-properties.ts';
import { KAFKA, KAFKA_MAIN_CLASS, LocalKafkaError } from './service.ts';

export const dataDirOf = (nodeDir: string) => join(nodeDir, 'data');

/** Whether the node's storage is formatted (a node is formatted once, then only started). */
export function isFormatted(nodeDir: string): Promise<boolean> {
  return exists(join(dataDirOf(nodeDir), 'meta.properties'));
}

/**
 * Writes the node's server.properties (`properties`, rewritten on every start) and the logging
 * config of Kafka `version`. Returns the properties' path and the JVM flag that names the logging
 * config.
 */
export async function writeNodeConfig(
  nodeDir: string,
  version: string,
  properties: string,
): Promise<{ propsPath: string; logFlag: string }> {
  const propsPath = join(nodeDir, 'server.properties');
  await writeFile(propsPath, properties);
  const logCfg = logConfig(version);
  const logCfgPath = join(nodeDir, logCfg.file);
  await writeFile(logCfgPath, logCfg.text);
  return { propsPath, logFlag: logCfg.jvmFlag(logCfgPath) };
}

/** Formats the node's KRaft storage with Kafka's StorageTool (every node of a cluster gets one id). */
export async function formatStorage(o: {
  java: string;
  nodeDir: string;
  classpath: string;
  config: { propsPath: string; logFlag: string };
  clusterId: string;
  /** More StorageTool arguments (the SCRAM users of the security listeners). */
  extraArgs?: string[];
}): Promise<void> {
  const r = await run(
    o.java,
    [
      o.config.logFlag,
      '-cp',
      o.classpath,
      'kafka.tools.StorageTool',
      'format',
      `--cluster-id=${o.clusterId}`,
      '-c',
      o.config.propsPath,
      ...(o.extraArgs ?? []),
    ],
    { cwd: o.nodeDir, timeoutMs: 120_000 },
  );
  if (r.code !== 0) {
    throw new LocalKafkaError(
      'WEIR_KAFKA_FORMAT_FAILED',
      `formatting Kafka storage in ${dataDirOf(o.nodeDir)} failed`,
      { logTail: tail(r.output) },
    );
  }
}

/** The broker's JVM command line (the flags of Kafka's own start scripts). */
export function brokerJvmArgs(o: {
  heapMb: number;
  nodeDir: string;
  classpath: string;
  config: { propsPath: string; logFlag: string };
}): string[] {
  return [
    `-Xms${o.heapMb}m`,
    `-Xmx${o.heapMb}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent',
    '-Djava.awt.headless=true',
    // marks the process as ours, for pid-file checks
    KAFKA.dirMark(o.nodeDir),
    o.config.logFlag,
    '-cp',
    o.classpath,
    KAFKA_MAIN_CLASS,
    o.config.propsPath,
  ];
}
