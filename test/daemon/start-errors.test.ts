/**
 * Failures of a real in-process dfdaemon reach their caller with the code of their kind: a port
 * another process holds fails the start with DF_ERR_ADDRESS_IN_USE naming the key, a storage dir
 * of a live daemon with DF_ERR_DAEMON_START; and the proxy's refusals reach the HTTP client with
 * the status api's table gives their code.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'vitest';
import { ERROR_STATUS, type ErrorCode } from '../../api/index.ts';
import { createLogger, resolveDfdaemonConfig, startDaemon, type RunningDaemon } from '../../daemon/index.ts';
import { daemonConfig } from '../support/daemon.ts';
import { closedPort, tempDir } from '../support/temp.ts';

const silent = createLogger('error', () => {});

async function occupiedPort(t: TestContext): Promise<number> {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.onTestFinished(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  return (blocker.address() as { port: number }).port;
}

async function start(t: TestContext, name: string, config: Record<string, unknown> = {}): Promise<RunningDaemon> {
  const dir = join(await tempDir(t, 'df-start-'), name);
  await mkdir(dir, { recursive: true });
  const controller = new AbortController();
  const daemon = await startDaemon({
    config: resolveDfdaemonConfig(daemonConfig(dir, { name, config })),
    log: silent,
    signal: AbortSignal.any([controller.signal, t.signal]),
  });
  t.onTestFinished(async () => {
    controller.abort();
    await daemon.stopped;
  });
  return daemon;
}

describe('daemon start', () => {
  const listeners: Array<[string, (port: number) => Record<string, unknown>]> = [
    ['storage.server.tcpPort', (port) => ({ storage: { server: { tcpPort: port } } })],
    ['upload.server.port', (port) => ({ upload: { server: { port } } })],
    ['metrics.server.port', (port) => ({ metrics: { server: { port } } })],
    ['proxy.server.port', (port) => ({ proxy: { server: { port } } })],
  ];
  for (const [key, configFor] of listeners) {
    test(`a taken ${key} fails with DF_ERR_ADDRESS_IN_USE naming the key`, async (t) => {
      const port = await occupiedPort(t);
      await assert.rejects(start(t, 'taken', configFor(port)), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'DF_ERR_ADDRESS_IN_USE');
        assert.equal(error.name, 'AddressInUseError');
        assert.ok(error.message.includes(key) && error.message.includes(String(port)), error.message);
        return true;
      });
    });
  }

  test('a storage dir held by a live daemon fails with DF_ERR_DAEMON_START', async (t) => {
    const dir = await tempDir(t, 'df-start-');
    const config = resolveDfdaemonConfig(daemonConfig(dir, { name: 'locked' }));
    await mkdir(config.storage.dir, { recursive: true });
    // The parent process is alive and is not this one: the lock is held.
    await writeFile(join(config.storage.dir, 'dfdaemon.pid'), String(process.ppid));
    await assert.rejects(startDaemon({ config, log: silent, signal: t.signal }), { code: 'DF_ERR_DAEMON_START', name: 'DaemonStartError' });
  });
});

interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Writes raw bytes to the proxy port and reads the whole answer (the proxy closes after a refusal). */
async function raw(port: number, text: string, signal: AbortSignal): Promise<RawAnswer> {
  const socket = connect(port, '127.0.0.1');
  signal.addEventListener('abort', () => socket.destroy(), { once: true });
  socket.setTimeout(10_000, () => socket.destroy(new Error('no answer from the proxy in 10 s')));
  socket.end(text);
  let answer = '';
  for await (const chunk of socket) answer += chunk;
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

async function get(port: number, path: string, options: { method?: string; headers?: Record<string, string> }, signal: AbortSignal): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, signal, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer from the proxy in 10 s')));
    req.on('error', reject);
    req.end();
  });
}

test('proxy refusals reach the client with the HTTP status of their code and whose fault it was', async (t) => {
  const daemon = await start(t, 'proxy');
  const proxy = daemon.ports.proxy;
  const closed = await closedPort();
  const cases: Array<[string, () => Promise<RawAnswer>, ErrorCode, string, string | undefined]> = [
    ['a path outside the registry API', () => get(proxy, '/etc/passwd', {}, t.signal), 'DF_ERR_PROXY_ROUTE_NOT_FOUND', 'proxy', 'NAME_UNKNOWN'],
    ['a push to the mirror', () => get(proxy, '/v2/library/alpine/manifests/3', { method: 'PUT' }, t.signal), 'DF_ERR_PROXY_METHOD_NOT_ALLOWED', 'proxy', 'UNSUPPORTED'],
    ['a malformed digest', () => get(proxy, '/v2/a/blobs/sha256:abc', {}, t.signal), 'DF_ERR_PROXY_BAD_REQUEST', 'proxy', 'DIGEST_INVALID'],
    ['an ftp URL', () => raw(proxy, 'GET ftp://127.0.0.1/x HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n', t.signal), 'DF_ERR_PROXY_BAD_REQUEST', 'proxy', 'UNSUPPORTED'],
    ['headers over 16 KiB', () => get(proxy, '/v2/', { headers: { 'x-big': 'a'.repeat(20_000) } }, t.signal), 'DF_ERR_PROXY_HEADERS_TOO_LARGE', 'proxy', undefined],
    ['a CONNECT without a port', () => raw(proxy, 'CONNECT 127.0.0.1 HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n', t.signal), 'DF_ERR_PROXY_BAD_REQUEST', 'proxy', undefined],
    ['a CONNECT to a closed port', () => raw(proxy, `CONNECT 127.0.0.1:${closed} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`, t.signal), 'DF_ERR_UPSTREAM_FAILED', 'backend', undefined],
  ];
  for (const [what, send, code, type, ociCode] of cases) {
    const answer = await send();
    assert.equal(answer.status, ERROR_STATUS[code].http, what);
    assert.equal(answer.headers['x-dragonfly-error-type'], type, what);
    if (ociCode) assert.equal((JSON.parse(answer.body) as { errors: Array<{ code: string }> }).errors[0]?.code, ociCode, what);
  }
  // The proxy goes on after every refusal.
  assert.equal((await get(proxy, '/etc/passwd', {}, t.signal)).status, 404);
});
