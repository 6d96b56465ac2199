/**
 * Regression for what the fuzzer found first: request bytes that are not the method's protobuf
 * message were answered INTERNAL by grpc-js ("Error deserializing request") on every server. With
 * api's tolerantService + rejectUndecodable they get INVALID_ARGUMENT naming the method, for unary,
 * server-streaming, client-streaming and bidi calls, and the handler never sees them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createLogger, PROTO_DIR, PROTO_FILES, PROTO_LOADER_OPTIONS, rejectUndecodable, tolerantService } from '../../api/index.ts';
import { resolveManagerConfig, startManager } from '../../manager/index.ts';
import { tempDir } from '../support/temp.ts';
import { sendRawGrpc } from '../support/fuzz/send.ts';

/** A key of wire type 7 (there is none): every message type refuses it (protobufjs lets many short reads pass). */
const UNDECODABLE = Buffer.from('ffffffffffffffffffffff01', 'hex');

test('undecodable requests get INVALID_ARGUMENT on every kind of call, and the handler never sees them', async (t) => {
  const definition = protoLoader.loadSync(PROTO_FILES.map((file) => join(PROTO_DIR, file)), { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] });
  const scheduler = definition['scheduler.v2.Scheduler'] as grpc.ServiceDefinition;
  const manager = definition['manager.v2.Manager'] as grpc.ServiceDefinition;
  const seen: string[] = [];
  const server = new grpc.Server({ interceptors: [rejectUndecodable] });
  server.addService(tolerantService(scheduler), {
    StatTask: (call: grpc.ServerUnaryCall<{ taskId: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      seen.push(`StatTask ${call.request.taskId}`);
      callback({ code: grpc.status.NOT_FOUND, details: 'no such task' });
    },
    PreheatTask: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      seen.push('PreheatTask');
      call.end();
    },
    AnnouncePeer: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      call.on('data', () => seen.push('AnnouncePeer message'));
      call.on('end', () => call.end());
    },
  });
  server.addService(tolerantService(manager), {
    KeepAlive: (call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      call.on('data', () => seen.push('KeepAlive message'));
      call.on('end', () => callback(null, {}));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  t.onTestFinished(() => void server.forceShutdown());
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.onTestFinished(() => client.close());

  const calls = [
    ['/scheduler.v2.Scheduler/StatTask', 'unary'],
    ['/scheduler.v2.Scheduler/PreheatTask', 'server-stream'],
    ['/scheduler.v2.Scheduler/AnnouncePeer', 'bidi'],
    ['/manager.v2.Manager/KeepAlive', 'client-stream'],
  ] as const;
  for (const [path, kind] of calls) {
    const answer = await sendRawGrpc(client, path, kind, [UNDECODABLE], { timeoutMs: 5_000 });
    assert.equal(grpc.status[answer.code], 'INVALID_ARGUMENT', `${path}: ${answer.details}`);
    assert.match(answer.details, new RegExp(`${path.replaceAll('.', '\\.')}: the request is not a valid protobuf message`));
  }
  assert.deepEqual(seen, [], 'no handler saw an undecodable message');

  // A decodable request still reaches its handler.
  const ok = await sendRawGrpc(client, '/scheduler.v2.Scheduler/StatTask', 'unary', [Buffer.from([0x0a, 0x01, 0x78])], { timeoutMs: 5_000 });
  assert.equal(grpc.status[ok.code], 'NOT_FOUND');
  assert.deepEqual(seen, ['StatTask x']);
});

test('the manager answers an undecodable request INVALID_ARGUMENT (was INTERNAL)', async (t) => {
  const dir = await tempDir(t, 'df-undecodable-');
  const config = resolveManagerConfig({
    server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir: join(dir, 'manager') },
    auth: { rootPassword: 'undecodable-root' },
  });
  const running = await startManager(config, { log: createLogger('error', () => {}) });
  t.onTestFinished(() => running.close());
  const client = new grpc.Client(`127.0.0.1:${running.grpcPort}`, grpc.credentials.createInsecure());
  t.onTestFinished(() => client.close());
  const answer = await sendRawGrpc(client, '/manager.v2.Manager/UpdateScheduler', 'unary', [UNDECODABLE], { timeoutMs: 5_000 });
  assert.equal(grpc.status[answer.code], 'INVALID_ARGUMENT', answer.details);
});
