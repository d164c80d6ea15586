// The routes of the config, compiled for the intake: each route's topic pattern parsed, its
// schema loaded and a decoder built for it, with the headers all of its records carry. Config
// order is kept: the first route whose pattern matches a topic wins (router/router.ts).
import { loadSchema, RecordDecoder } from '../codec/avro.ts';
import type { LoadedConfig } from '../config/load.ts';
import { WeirError } from '../errors.ts';
import { parsePattern, type TopicPattern } from '../router/pattern.ts';

export interface CompiledRoute {
  readonly name: string;
  readonly pattern: TopicPattern;
  readonly kafkaTopic: string;
  readonly keySegment: string;
  readonly decoder: RecordDecoder;
  /** The route's schema: its .avsc file and fingerprint (SHA-256 of its canonical form, hex). */
  readonly schema: { readonly file: string; readonly fingerprint: string };
  /** Headers every record of the route carries (gateway id, schema fingerprint). */
  readonly fixedHeaders: Readonly<Record<string, Buffer>>;
}

export function compileRoutes(loaded: LoadedConfig): CompiledRoute[] {
  const { config, schemaPaths } = loaded;
  return config.routes.map((route, i) => {
    const parsed = parsePattern(route.mqttTopic);
    if ('problems' in parsed) throw new WeirError('WEIR_CONFIG_INVALID', parsed.problems.join('; '));
    const pattern = parsed.pattern;
    const keySegment = route.key ?? pattern.names[pattern.names.length - 1]!;
    const schema = loadSchema(schemaPaths[i]!);
    return {
      name: route.name,
      pattern,
      kafkaTopic: route.kafkaTopic,
      keySegment,
      decoder: new RecordDecoder({ schema, segmentNames: pattern.names, keySegment }),
      schema: { file: schemaPaths[i]!, fingerprint: schema.fingerprint },
      fixedHeaders: {
        'weir-gateway-id': Buffer.from(config.gatewayId),
        'avro-schema-fingerprint': Buffer.from(schema.fingerprint),
      },
    };
  });
}
