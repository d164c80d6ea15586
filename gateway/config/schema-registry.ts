// Config section `schemaRegistry`: a Confluent-compatible Schema Registry, whose ids weir puts in
// front of each record value (the Confluent wire format: magic byte 0, 4-byte schema id, Avro).
// Absent: no registry; values are plain Avro with the schema fingerprint in a header.
// Defaults and units next to each field, like every section of gateway/config/schema.ts.
//
//   schemaRegistry:
//     urls: [https://registry-a:8081, https://registry-b:8081]
//     auth: { basic: { username: weir, passwordFile: secrets/registry.password } }
//     tls: { caFile: certs/ca.pem }
import { z } from 'zod';
import { SUBJECT_NAME_STRATEGIES } from '../registry/subject.ts';

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name: letters, digits and _');

const registryUrl = z
  .string()
  .refine(
    (s) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '';
      } catch {
        return false;
      }
    },
    { message: 'expected an http:// or https:// URL without credentials in it (use auth)' },
  )
  .describe(
    'Base URL of the Confluent-compatible API, e.g. https://registry:8081 or, for Apicurio, http://host:8080/apis/ccompat/v7.',
  );

const secretFile = (name: string, envKey: string) =>
  z
    .string()
    .min(1)
    .optional()
    .describe(
      `File holding the ${name} (relative to the config file; one trailing newline is ignored). Give this or ${envKey}.`,
    );
const secretEnv = (name: string, fileKey: string) =>
  envName.optional().describe(`Environment variable holding the ${name}. Give this or ${fileKey}.`);
const refusedInline = (name: string) =>
  z
    .unknown()
    .optional()
    .describe(`Refused: a ${name} is never written in the config itself; use ${name}File or ${name}Env.`);

/** A secret comes from a file or an environment variable, exactly one; written inline it is refused. */
function refineSecret(name: 'password' | 'token') {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    if (value[name] !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `an inline ${name} is refused (config files get copied, committed and printed): put it in a file (${name}File) or an environment variable (${name}Env)`,
      });
    }
    const given = Number(value[`${name}File`] !== undefined) + Number(value[`${name}Env`] !== undefined);
    if (given !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: given === 0 ? `needs ${name}File or ${name}Env` : `give ${name}File or ${name}Env, not both`,
      });
    }
  };
}

const basicAuthSchema = z
  .strictObject({
    username: z.string().min(1).describe('User name (for Confluent Cloud: the API key).'),
    passwordFile: secretFile('password', 'passwordEnv'),
    passwordEnv: secretEnv('password', 'passwordFile'),
    password: refusedInline('password'),
  })
  .superRefine(refineSecret('password'))
  .describe('HTTP basic authentication.');

const bearerAuthSchema = z
  .strictObject({
    tokenFile: secretFile('token', 'tokenEnv'),
    tokenEnv: secretEnv('token', 'tokenFile'),
    token: refusedInline('token'),
  })
  .superRefine(refineSecret('token'))
  .describe('A bearer token (e.g. an OAuth access token), sent as Authorization: Bearer.');

export const schemaRegistryAuthSchema = z
  .union([z.strictObject({ basic: basicAuthSchema }), z.strictObject({ bearer: bearerAuthSchema })], {
    error: () =>
      'expected {basic: {username, passwordFile | passwordEnv}} or {bearer: {tokenFile | tokenEnv}}',
  })
  .optional()
  .describe('How weir authenticates to the registry (absent: no authentication).');

export const schemaRegistryTlsSchema = z
  .strictObject({
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "PEM file of the CA(s) that signed the registry's certificate (relative to the config file). Default: the system's CAs.",
      ),
    rejectUnauthorized: z
      .boolean()
      .default(true)
      .describe(
        'Refuse a registry whose certificate does not verify. false is for tests only: anyone in the path can then read and change the traffic.',
      ),
  })
  .prefault({})
  .describe('TLS to https:// registry URLs.');

export const WIRE_FORMATS = ['confluent', 'plain'] as const;

export const schemaRegistrySchema = z
  .strictObject({
    urls: z
      .array(registryUrl)
      .min(1)
      .describe(
        'Registry URLs, tried in order: a request that cannot reach one, or gets no answer within requestTimeoutMs, or a 5xx, goes to the next.',
      ),
    auth: schemaRegistryAuthSchema,
    tls: schemaRegistryTlsSchema,
    subjectNameStrategy: z
      .enum(SUBJECT_NAME_STRATEGIES)
      .default('TopicName')
      .describe(
        "Subject of a route's schema: TopicName (<topic>-value), RecordName (the record's full name) or TopicRecordName (<topic>-<full name>); as Confluent's strategies of those names.",
      ),
    wireFormat: z
      .enum(WIRE_FORMATS)
      .default('confluent')
      .describe(
        'Record values as confluent (magic byte 0 + 4-byte schema id + Avro, for Confluent-compatible deserializers) or plain (Avro only, schema fingerprint in a header; schemas are still registered).',
      ),
    autoRegister: z
      .boolean()
      .default(true)
      .describe(
        "Register a route's schema when the subject lacks it; false only looks the id up, for credentials that may read but not write.",
      ),
    requestTimeoutMs: z
      .int()
      .positive()
      .default(10_000)
      .describe(
        'A registry request (connect, send, whole answer) unanswered for this long fails over to the next URL.',
      ),
    cacheFile: z
      .string()
      .regex(/^[^/\\]+$/, 'a file name, without a directory: the file lives in the spool directory')
      .refine((s) => s !== '.' && s !== '..', 'a file name')
      .default('schema-ids.json')
      .describe(
        'File in the spool directory that keeps the ids learnt from the registry, so a gateway restarted without an uplink still has them.',
      ),
  })
  .optional()
  .describe(
    'A Confluent-compatible Schema Registry (absent: none; values are plain Avro with the schema fingerprint in a header).',
  );

export type SchemaRegistryConfig = z.output<typeof schemaRegistrySchema>;
