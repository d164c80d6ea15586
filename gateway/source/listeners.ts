// The network side of the source: the listeners devices connect to, each handing every
// connection to the device front end as a byte stream plus what the transport knows about the peer.
//  - tcp: plain MQTT (`mqtt.host`/`mqtt.port`).
//  - tls: MQTT over TLS (node:tls), optionally asking for client certificates signed by the
//    configured CA. A verified certificate's CN (or, without one, its first DNS/URI SAN) is the
//    device identity a login may use.
//  - websocket: MQTT over WebSocket (ws), one binary WebSocket message stream per connection,
//    wrapped with createWebSocketStream so that the front end reads it like a socket. The ws
//    library is loaded only when a websocket listener is configured (it costs memory for as
//    long as the process lives, and most gateways listen on tcp or tls only).
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { PresentedCertificate } from '../auth/authenticator.ts';
import { DEVICE_ID } from '../config/schema.ts';
import { rateLimited } from '../log.ts';

export type Transport = 'tcp' | 'tls' | 'websocket';

/** What the transport knows about a connection, before MQTT. */
export interface ConnectionInfo {
  readonly transport: Transport;
  readonly remoteAddress: string;
  /** The client certificate: none, not verified, or the identity it names. */
  readonly certificate: PresentedCertificate;
}

export type ListenerSpec =
  | { readonly transport: 'tcp'; readonly host: string; readonly port: number }
  | {
      readonly transport: 'tls';
      readonly host: string;
      readonly port: number;
      readonly cert: Buffer;
      readonly key: Buffer;
      readonly ca: Buffer | undefined;
      readonly clientCertificates: 'none' | 'optional' | 'required';
      readonly handshakeTimeoutMs: number;
    }
  | {
      readonly transport: 'websocket';
      readonly host: string;
      readonly port: number;
      readonly path: string;
      /** Largest WebSocket message accepted, in bytes. */
      readonly maxMessageBytes: number;
    };

export type HandleConnection = (stream: Duplex, info: ConnectionInfo) => void;

export interface Listener {
  readonly transport: Transport;
  readonly address: { readonly host: string; readonly port: number };
  /** Stops accepting; connections already handed over are the front end's to close. */
  close(): Promise<void>;
}

/** Starts every listener; when one fails, the ones already started are closed and it rejects. */
export async function startListeners(
  specs: readonly ListenerSpec[],
  handle: HandleConnection,
  log: Logger,
): Promise<Listener[]> {
  const started: Listener[] = [];
  try {
    for (const spec of specs) started.push(await startListener(spec, handle, log));
  } catch (err) {
    await Promise.all(started.map((l) => l.close()));
    throw Object.assign(err as Error, { transport: specs[started.length]?.transport });
  }
  return started;
}

async function startListener(spec: ListenerSpec, handle: HandleConnection, log: Logger): Promise<Listener> {
  switch (spec.transport) {
    case 'tcp': {
      const server = net.createServer((socket) => {
        socket.setNoDelay(true);
        handle(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress ?? '', certificate: null });
      });
      return listen(server, spec, log);
    }
    case 'tls': {
      const logTlsError = rateLimited(10_000, (suppressed) =>
        log.debug({ suppressed }, 'TLS handshakes failed'),
      );
      const server = tls.createServer(
        {
          cert: spec.cert,
          key: spec.key,
          ...(spec.ca !== undefined && { ca: spec.ca }),
          minVersion: 'TLSv1.2',
          requestCert: spec.clientCertificates !== 'none',
          rejectUnauthorized: spec.clientCertificates === 'required',
          handshakeTimeout: spec.handshakeTimeoutMs,
        },
        (socket) => {
          socket.setNoDelay(true);
          const certificate = spec.clientCertificates === 'none' ? null : peerIdentity(socket);
          handle(socket, { transport: 'tls', remoteAddress: socket.remoteAddress ?? '', certificate });
        },
      );
      server.on('tlsClientError', (err) => {
        log.debug({ err: err.message }, 'TLS handshake failed');
        logTlsError();
      });
      return listen(server, spec, log);
    }
    case 'websocket': {
      const { createWebSocketStream, WebSocketServer } = await import('ws');
      const server = http.createServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
      });
      const wss = new WebSocketServer({
        server,
        path: spec.path,
        maxPayload: spec.maxMessageBytes,
        perMessageDeflate: false,
        // MQTT clients ask for the `mqtt` subprotocol (older ones for `mqttv3.1`).
        handleProtocols: (protocols) =>
          protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false,
      });
      wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws);
        handle(stream, {
          transport: 'websocket',
          remoteAddress: req.socket.remoteAddress ?? '',
          certificate: null,
        });
      });
      wss.on('error', (err) => log.error({ err }, 'WebSocket listener error'));
      const listener = await listen(server, spec, log);
      return {
        ...listener,
        async close() {
          await new Promise<void>((resolve) => wss.close(() => resolve()));
          server.closeAllConnections();
          await listener.close();
        },
      };
    }
  }
}

async function listen(
  server: net.Server,
  spec: { transport: Transport; host: string; port: number },
  log: Logger,
): Promise<Listener> {
  server.listen(spec.port, spec.host);
  await once(server, 'listening');
  server.on('error', (err) => log.error({ err, transport: spec.transport }, 'MQTT listener error'));
  const addr = server.address() as net.AddressInfo;
  log.info({ transport: spec.transport, host: addr.address, port: addr.port }, 'MQTT listener ready');
  return {
    transport: spec.transport,
    address: { host: addr.address, port: addr.port },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The device id a verified client certificate names: its CN, else its first DNS or URI SAN. */
function peerIdentity(socket: tls.TLSSocket): ConnectionInfo['certificate'] {
  const cert = socket.getPeerCertificate();
  if (cert === null || Object.keys(cert).length === 0) return null;
  if (!socket.authorized) return 'unverified';
  const cn = cert.subject?.CN as string | string[] | undefined;
  const candidates = [
    ...(Array.isArray(cn) ? cn.slice(0, 1) : cn !== undefined ? [cn] : []),
    ...(cert.subjectaltname ?? '')
      .split(', ')
      .filter((s) => s.startsWith('DNS:') || s.startsWith('URI:'))
      .map((s) => s.slice(4)),
  ];
  const identity = candidates[0];
  return identity !== undefined && DEVICE_ID.test(identity) ? { identity } : 'unverified';
}
