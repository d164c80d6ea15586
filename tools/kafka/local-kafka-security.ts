// Security listeners for the local Kafka (`weir kafka start --security`), next to the default
// PLAINTEXT one (which stays as it is: the readiness probe and inter-broker traffic use it):
//   SASL_PLAINTEXT  PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512
//   SASL_SSL        the same mechanisms over TLS
//   SSL             TLS with a required client certificate (mutual TLS)
// One user, `weir`, with a random password; its SCRAM credentials are written at format time
// (`--add-scram`), so a state dir gets them only when it is formatted with security on.
// Certificates come from a CA made for this state dir by `keytool` (part of Java), valid for
// 30 days; the client's private key is taken out of its PKCS12 store with `openssl`, because
// Node clients want PEM. Everything lives in DIR/security/ (mode 700):
//   weir.password   the user's password (mode 600)      ca.pem     the CA certificate
//   client.pem      client certificate (CN=weir-client)  client.key its private key (mode 600)
//   broker.p12, truststore.p12, ca.p12, store.password  the broker's side
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
export async function ensureSecurityMaterial(
  dir: string,
  keytool: string,
): Promise<{ storePassword: string }> {
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

  const kt = (...args: string[]) => exec(keytool, args, sec);
  const store = (file: string) => ['-keystore', file, '-storetype', 'PKCS12', '-storepass', storePassword];
  const keypair = (alias: string, file: string, dname: string, ...ext: string[]) =>
    kt(
      '-genkeypair',
      '-alias',
      alias,
      '-keyalg',
      'EC',
      '-groupname',
      'secp256r1',
      '-dname',
      dname,
      '-validity',
      VALIDITY_DAYS,
      ...ext,
      ...store(file),
      '-keypass',
      storePassword,
    );
  /** A key pair in `file` with a certificate signed by the CA, the chain imported back. */
  const signed = async (alias: string, file: string, dname: string, ...ext: string[]) => {
    await keypair(alias, file, dname);
    await kt('-certreq', '-alias', alias, '-file', `${alias}.csr`, ...store(file));
    await kt(
      '-gencert',
      '-alias',
      'ca',
      '-infile',
      `${alias}.csr`,
      '-outfile',
      `${alias}.pem`,
      '-rfc',
      '-validity',
      VALIDITY_DAYS,
      ...ext,
      ...store('ca.p12'),
    );
    await kt('-importcert', '-alias', 'ca', '-file', 'ca.pem', '-noprompt', ...store(file));
    await kt('-importcert', '-alias', alias, '-file', `${alias}.pem`, ...store(file));
  };

  await keypair('ca', 'ca.p12', 'CN=weir local Kafka test CA', '-ext', 'bc:c');
  await kt('-exportcert', '-rfc', '-alias', 'ca', '-file', 'ca.pem', ...store('ca.p12'));
  await signed(
    'broker',
    'broker.p12',
    'CN=localhost',
    '-ext',
    'SAN=dns:localhost,ip:127.0.0.1',
    '-ext',
    'EKU=serverAuth',
  );
  await signed('client', 'client.p12', 'CN=weir-client', '-ext', 'EKU=clientAuth');
  await kt('-importcert', '-alias', 'ca', '-file', 'ca.pem', '-noprompt', ...store('truststore.p12'));
  await exec(
    'openssl',
    [
      'pkcs12',
      '-in',
      'client.p12',
      '-nocerts',
      '-nodes',
      '-passin',
      `pass:${storePassword}`,
      '-out',
      'client.key',
    ],
    sec,
  );
  await chmod(join(sec, 'client.key'), 0o600);
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
      'ssl.truststore.type=PKCS12',
      `ssl.truststore.location=${join(sec, 'truststore.p12')}`,
      `ssl.truststore.password=${o.storePassword}`,
      'listener.name.ssl.ssl.client.auth=required',
    ],
  };
}
