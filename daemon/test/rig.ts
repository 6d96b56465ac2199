/**
 * What the daemon's own tests share: a temp directory removed when the test ends, and a scheduler
 * that is a script over real gRPC (for tests that must name exactly what the daemon is told and
 * see what it asks; the real scheduler decides for itself).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'vitest';
import type { schedulerv2 } from '../../api/index.ts';
import { bindServer, grpc, loadProtos, shutdownServer } from '../rpc/grpc.ts';

export async function tempDir(t: TestContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export type AnnounceCall = grpc.ServerDuplexStream<schedulerv2.AnnouncePeerRequest__Output, schedulerv2.AnnouncePeerResponse>;

/** A Scheduler service on loopback whose AnnouncePeer answers each request with `onRequest`; its port. Stopped when the test ends. */
export async function scriptedScheduler(t: TestContext, onRequest: (request: schedulerv2.AnnouncePeerRequest__Output, call: AnnounceCall) => void): Promise<number> {
  const server = new grpc.Server();
  server.addService(loadProtos().scheduler.Scheduler.service, {
    AnnouncePeer: (call: AnnounceCall) => {
      call.on('data', (request: schedulerv2.AnnouncePeerRequest__Output) => onRequest(request, call));
      call.on('error', () => {});
      call.on('end', () => call.end());
    },
  } as grpc.UntypedServiceImplementation);
  const port = await bindServer(server, '127.0.0.1:0');
  t.onTestFinished(() => shutdownServer(server, 100));
  return port;
}
