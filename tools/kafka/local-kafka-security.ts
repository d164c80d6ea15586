// Security listeners for the local Kafka (`weir kafka start --security`), next to the default
// PLAINTEXT one (which stays as it is: the readiness probe and inter-broker traffic use it):
//   SASL_PLAINTEXT  PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512
//   SASL_SSL        the same mechanisms over TLS
//   SSL             TLS with a required client certificate (mutual TLS)
// One user, `weir`, with a random password; its SCRAM credentials are written at format time
// (`--add-scram`), so a state dir gets them only when it is formatted with security on.
// Certificates come from a CA made for this state dir with `openssl`, valid for 30 days (keytool
// would do too, but it takes a JVM start per step: over a minute on a busy 2-core machine, where
// openssl takes well under a second). Everything lives in DIR/security/ (mode 700):
//   weir.password   the user's password (mode 600)      ca.pem     the CA certificate
//   client.pem      client certificate (CN=weir-client)  client.key its private key (mode 600)
//   broker.p12 (PKCS12 key store), store.password, ca.key   the broker's side
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SCRAM_USER = 'weir';
const VALIDITY_DAYS = '30';

export interface LocalKafkaSecurityPorts {
  /** SASL_PLAINTEXT listener: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512. */
  readonly saslPort: number;
  /** SASL_SSL listener: the same mechanisms over TLS. */
  readonly saslSslPort: number;
  /** SSL listener that requires a client certificate. */
  readonly sslPort: number;
}

/** What a client needs to use the security listeners. */
export interface LocalKafkaSecurityInfo extends LocalKafkaSecurityPorts {
  readonly saslBrokers: string;
  readonly saslSslBrokers: string;
  readonly sslBrokers: string;
  readonly username: string;
  readonly passwordFile: string;
  readonly caFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
}

export const securityDir = (dir: string) => join(dir, 'security');

export function securityInfo(dir: string, ports: LocalKafkaSecurityPorts): LocalKafkaSecurityInfo {
  const sec = securityDir(dir);
  return {
    ...ports,
    saslBrokers: `127.0.0.1:${ports.saslPort}`,
    saslSslBrokers: `127.0.0.1:${ports.saslSslPort}`,
    sslBrokers: `127.0.0.1:${ports.sslPort}`,
    username: SCRAM_USER,
    passwordFile: join(sec, 'weir.password'),
    caFile: join(sec, 'ca.pem'),
    clientCertFile: join(sec, 'client.pem'),
    clientKeyFile: join(sec, 'client.key'),
  };
}

function exec(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: 60_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) resolve();
      else {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        reject(
          new Error(
            missing
              ? `\`${cmd}\` is needed for the local Kafka's security listeners but was not found on PATH`
              : `${cmd} ${args[0]} failed: ${`${stdout}${stderr}`.trim().split('\n').slice(-3).join(' | ')}`,
            { cause: error },
          ),
        );
      }
    });
  });
}

/**
 * Makes the password, the CA and the broker's and client's certificates in DIR/security, unless
 * they are there already. Returns the store password (for server.properties).
 */
export async function ensureSecurityMaterial(dir: string): Promise<{ storePassword: string }> {
  const sec = securityDir(dir);
  const storePasswordFile = join(sec, 'store.password');
  try {
    const storePassword = (await readFile(storePasswordFile, 'utf8')).trim();
    await readFile(join(sec, 'client.key'));
    return { storePassword };
  } catch {
    // not made yet (or half made): make everything anew
  }
  await rm(sec, { recursive: true, force: true });
  await mkdir(sec, { recursive: true, mode: 0o700 });
  await chmod(sec, 0o700);
  const storePassword = randomBytes(18).toString('base64url');
  const userPassword = randomBytes(18).toString('base64url');
  await writeFile(join(sec, 'weir.password'), `${userPassword}\n`, { mode: 0o600 });

  const ssl = (...args: string[]) => exec('openssl', args, sec);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  /** A key and a certificate signed by the CA, with the extensions in `ext`. */
  const signed = async (name: string, subject: string, ext: string[]) => {
    await ssl('req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    await writeFile(join(sec, `${name}.ext`), `${ext.join('\n')}\n`);
    await ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      VALIDITY_DAYS,
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
    await chmod(join(sec, `${name}.key`), 0o600);
  };
  await ssl(
    'req',
    '-x509',
    ...newKey,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    VALIDITY_DAYS,
    '-subj',
    '/CN=weir local Kafka test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  await signed('broker', '/CN=localhost', [
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    'extendedKeyUsage=serverAuth',
  ]);
  await signed('client', '/CN=weir-client', ['extendedKeyUsage=clientAuth']);
  // The broker's key store (PKCS12); its trust store is ca.pem itself (type PEM).
  await ssl(
    'pkcs12',
    '-export',
    '-in',
    'broker.pem',
    '-inkey',
    'broker.key',
    '-certfile',
    'ca.pem',
    '-name',
    'broker',
    '-out',
    'broker.p12',
    '-passout',
    `pass:${storePassword}`,
  );
  // Written last: its presence (with client.key) means the set is complete.
  await writeFile(storePasswordFile, `${storePassword}\n`, { mode: 0o600 });
  return { storePassword };
}

export async function userPassword(dir: string): Promise<string> {
  return (await readFile(join(securityDir(dir), 'weir.password'), 'utf8')).trim();
}

/** `--add-scram` arguments of `StorageTool format` for the user, both SCRAM mechanisms. */
export function addScramArgs(password: string): string[] {
  return ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => [
    '--add-scram',
    `${m}=[name=${SCRAM_USER},password=${password}]`,
  ]);
}

/**
 * server.properties lines for the security listeners: what to add to `listeners`,
 * `advertised.listeners` and the protocol map, and the per-listener settings.
 */
export function securityProperties(o: {
  dir: string;
  ports: LocalKafkaSecurityPorts;
  storePassword: string;
  userPassword: string;
}): { listeners: string[]; protocolMap: string[]; lines: string[] } {
  const sec = securityDir(o.dir);
  const { saslPort, saslSslPort, sslPort } = o.ports;
  const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  const plain = `org.apache.kafka.common.security.plain.PlainLoginModule required user_${SCRAM_USER}="${o.userPassword}";`;
  const jaas = (listener: string) => [
    `listener.name.${listener}.plain.sasl.jaas.config=${plain}`,
    `listener.name.${listener}.scram-sha-256.sasl.jaas.config=${scram}`,
    `listener.name.${listener}.scram-sha-512.sasl.jaas.config=${scram}`,
  ];
  return {
    listeners: [
      `SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      `SASL_SSL://127.0.0.1:${saslSslPort}`,
      `SSL://127.0.0.1:${sslPort}`,
    ],
    protocolMap: ['SASL_PLAINTEXT:SASL_PLAINTEXT', 'SASL_SSL:SASL_SSL', 'SSL:SSL'],
    lines: [
      '# Security listeners (weir kafka start --security)',
      'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      ...jaas('sasl_plaintext'),
      ...jaas('sasl_ssl'),
      'ssl.keystore.type=PKCS12',
      `ssl.keystore.location=${join(sec, 'broker.p12')}`,
      `ssl.keystore.password=${o.storePassword}`,
      `ssl.key.password=${o.storePassword}`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${join(sec, 'ca.pem')}`,
      'listener.name.ssl.ssl.client.auth=required',
    ],
  };
}
