// Security of the connection to Kafka (kafka.sasl, kafka.tls), per client adapter: the resolved
// KafkaSecurity (read when the config loads, gateway/config/kafka-security.ts) mapped to each
// client's own options. Failures to authenticate or to verify a certificate become WEIR_KAFKA_AUTH
// and WEIR_KAFKA_TLS, so an operator sees "wrong credentials" rather than a generic retry.
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { KafkaSecurity, KafkaTls, SaslMechanism } from '../../config/kafka-security.ts';
import { WeirError } from '../../errors.ts';
import { errorChain } from './errors.ts';

// ---------------------------------------------------------------------------------------------
// Per client

/** kafkajs `ssl` and `sasl` options of `new Kafka({...})` (its mechanism names are weir's). */
export function kafkajsSecurity(sec: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (sec.tls !== null) out.ssl = nodeTlsOptions(sec.tls);
  if (sec.sasl !== null) {
    out.sasl = {
      mechanism: sec.sasl.mechanism,
      username: sec.sasl.username,
      password: sec.sasl.password.reveal(),
    } as SASLOptions;
  }
  return out;
}

const PLATFORMATIC_MECHANISM = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
} as const;

/** @platformatic/kafka `tls` and `sasl` client options; the password is handed over as a provider. */
export function platformaticSecurity(sec: KafkaSecurity): {
  tls?: { ca?: string[]; cert?: string; key?: string; servername?: string; rejectUnauthorized: boolean };
  sasl?: {
    mechanism: (typeof PLATFORMATIC_MECHANISM)[SaslMechanism];
    username: string;
    password: () => string;
  };
} {
  const out: ReturnType<typeof platformaticSecurity> = {};
  if (sec.tls !== null) out.tls = nodeTlsOptions(sec.tls);
  if (sec.sasl !== null) {
    const password = sec.sasl.password;
    out.sasl = {
      mechanism: PLATFORMATIC_MECHANISM[sec.sasl.mechanism],
      username: sec.sasl.username,
      password: () => password.reveal(),
    };
  }
  return out;
}

function nodeTlsOptions(tls: KafkaTls) {
  return {
    ...(tls.ca !== undefined && { ca: [tls.ca] }),
    ...(tls.cert !== undefined && { cert: tls.cert }),
    ...(tls.key !== undefined && { key: tls.key.reveal() }),
    ...(tls.servername !== undefined && { servername: tls.servername }),
    rejectUnauthorized: tls.rejectUnauthorized,
  };
}

/**
 * librdkafka configuration properties for the same settings (node-rdkafka and
 * @confluentinc/kafka-javascript take them as-is). librdkafka reads the PEM files itself.
 */
export function librdkafkaSecurity(sec: KafkaSecurity): Record<string, string> {
  const { sasl, tls } = sec;
  const out: Record<string, string> = {
    'security.protocol':
      sasl !== null ? (tls !== null ? 'sasl_ssl' : 'sasl_plaintext') : tls !== null ? 'ssl' : 'plaintext',
  };
  if (sasl !== null) {
    out['sasl.mechanisms'] = PLATFORMATIC_MECHANISM[sasl.mechanism];
    out['sasl.username'] = sasl.username;
    out['sasl.password'] = sasl.password.reveal();
  }
  if (tls !== null) {
    if (tls.caFile !== undefined) out['ssl.ca.location'] = tls.caFile;
    if (tls.certFile !== undefined) out['ssl.certificate.location'] = tls.certFile;
    if (tls.keyFile !== undefined) out['ssl.key.location'] = tls.keyFile;
    out['enable.ssl.certificate.verification'] = String(tls.rejectUnauthorized);
    // librdkafka ≥ 2.0 checks the broker's host name by default; without verification it cannot.
    out['ssl.endpoint.identification.algorithm'] = tls.rejectUnauthorized ? 'https' : 'none';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Node/OpenSSL error codes of a certificate that does not verify. */
const TLS_VERIFY_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

const AUTH_ERROR_TYPES = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
]);

/**
 * WEIR_KAFKA_AUTH when Kafka refused the credentials (or the mechanism), WEIR_KAFKA_TLS when a
 * certificate did not verify; null for anything else. Looks through causes and wrapped errors of
 * either client; the client's error that says so becomes the cause (pino logs its message).
 * Both are retriable: the broker's side may be fixed while weir runs (a user created, a
 * certificate renewed), and until then the records stay in the spool. Weir's own secrets are
 * read at start-up: changing them takes a restart.
 */
export function securityError(err: unknown): WeirError | null {
  if (err instanceof WeirError && (err.code === 'WEIR_KAFKA_AUTH' || err.code === 'WEIR_KAFKA_TLS'))
    return err;
  for (const o of errorChain(err)) {
    if (
      o.name === 'KafkaJSSASLAuthenticationError' ||
      o.code === 'PLT_KFK_AUTHENTICATION' ||
      (typeof o.type === 'string' && AUTH_ERROR_TYPES.has(o.type)) ||
      (typeof o.apiId === 'string' && AUTH_ERROR_TYPES.has(o.apiId))
    ) {
      return new WeirError(
        'WEIR_KAFKA_AUTH',
        'Kafka refused the SASL credentials or mechanism (kafka.sasl)',
        { cause: o },
      );
    }
    if (typeof o.code === 'string' && (TLS_VERIFY_CODES.has(o.code) || o.code.startsWith('ERR_SSL_'))) {
      return new WeirError('WEIR_KAFKA_TLS', `TLS to Kafka failed (kafka.tls): ${o.code}`, {
        cause: o,
      });
    }
  }
  return null;
}
