// Test certificates made with openssl: a CA, a server certificate for 127.0.0.1 and client
// certificates whose CN is a device id (plus one from a CA the gateway does not trust).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestPki {
  readonly dir: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** A client certificate and key signed by the CA, with CN = deviceId. */
  client(deviceId: string): { cert: Buffer; key: Buffer };
  /** A client certificate from a CA the gateway does not know. */
  stranger(deviceId: string): { cert: Buffer; key: Buffer };
  readonly ca: Buffer;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  );
}

function sign(dir: string, ca: string, name: string, subject: string, ext: string): void {
  openssl(
    dir,
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    subject,
  );
  writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  );
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  sign(
    dir,
    'ca',
    'server',
    '/CN=127.0.0.1',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  const issue = (ca: string, deviceId: string) => {
    const name = `${ca}-client-${deviceId}`;
    sign(dir, ca, name, `/CN=${deviceId}`, 'extendedKeyUsage=clientAuth\n');
    return {
      cert: readFileSync(path.join(dir, `${name}.crt`)),
      key: readFileSync(path.join(dir, `${name}.key`)),
    };
  };
  return {
    dir,
    caFile: path.join(dir, 'ca.crt'),
    certFile: path.join(dir, 'server.crt'),
    keyFile: path.join(dir, 'server.key'),
    ca: readFileSync(path.join(dir, 'ca.crt')),
    client: (id) => issue('ca', id),
    stranger: (id) => issue('other-ca', id),
  };
}
