/**
 * A real dfscheduler on 127.0.0.1 port 0 and real grpc-js clients of it, closed when the test ends.
 * Every wait is bounded: a response or status that does not come fails the test, it never hangs.
 */
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { TestContext } from 'vitest';
import { PROTO_FILES, PROTO_LOADER_OPTIONS, taskIdOf, type commonv2, type dfdaemonv2, type schedulerv2 } from '../../api/index.ts';
import { NOOP_LOGGER, resolveSchedulerConfig, startScheduler, type RunningScheduler, type StartOptions } from '../../scheduler/index.ts';

const definition = loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] });
const root = grpc.loadPackageDefinition(definition);
export const schedulerProto = (root as unknown as schedulerv2.ProtoGrpcType).scheduler.v2;
export const dfdaemonProto = (root as unknown as dfdaemonv2.ProtoGrpcType).dfdaemon.v2;

export const WAIT_MS = 10_000;

/** Fast retries so scheduling rounds take milliseconds; everything else is Dragonfly's default. */
export function testConfig(overrides: Record<string, unknown> = {}) {
  const scheduler = (overrides.scheduler ?? {}) as Record<string, unknown>;
  return resolveSchedulerConfig({
    ...overrides,
    server: { listenIP: '127.0.0.1', port: 0, ...((overrides.server ?? {}) as object) },
    metrics: { enable: true, addr: '127.0.0.1:0', ...((overrides.metrics ?? {}) as object) },
    scheduler: { retryInterval: '20ms', ...scheduler },
    log: { level: 'error', ...((overrides.log ?? {}) as object) },
  });
}

export interface Harness {
  readonly scheduler: RunningScheduler;
  readonly client: schedulerv2.SchedulerClient;
  readonly address: string;
  newClient(): schedulerv2.SchedulerClient;
  /** An AnnouncePeer stream on the harness client, cancelled when the test ends. */
  peer(hostId: string, peerId: string, taskId?: string): PeerStreamClient;
  announceHost(host: Partial<commonv2.Host> & { id: string }, intervalMs?: number): Promise<void>;
  unary<Req, Res>(method: string, request: Req): Promise<Res>;
  metricsText(): Promise<string>;
}

export async function startHarness(t: TestContext, overrides: Record<string, unknown> = {}, options: StartOptions = {}): Promise<Harness> {
  const scheduler = await startScheduler(testConfig(overrides), { log: NOOP_LOGGER, ...options });
  const address = `127.0.0.1:${scheduler.port}`;
  const clients: grpc.Client[] = [];
  const newClient = () => {
    const client = new schedulerProto.Scheduler(address, grpc.credentials.createInsecure());
    clients.push(client);
    return client;
  };
  const client = newClient();
  const streams: PeerStreamClient[] = [];
  t.onTestFinished(async () => {
    for (const stream of streams) stream.cancel();
    for (const c of clients) c.close();
    await scheduler.close();
  });
  const unary = <Req, Res>(method: string, request: Req) =>
    new Promise<Res>((resolve, reject) => {
      const call = (client as unknown as Record<string, Function>)[method]!.bind(client);
      call(request, { deadline: Date.now() + WAIT_MS }, (error: grpc.ServiceError | null, response: Res) => (error ? reject(error) : resolve(response)));
    });
  return {
    scheduler,
    client,
    address,
    newClient,
    peer: (hostId, peerId, taskId) => {
      const stream = new PeerStreamClient(client, { hostId, peerId, ...(taskId ? { taskId } : {}) });
      streams.push(stream);
      return stream;
    },
    announceHost: (host, intervalMs) =>
      unary('AnnounceHost', {
        host: { hostname: host.id, ip: '127.0.0.1', port: 4000, downloadPort: 4005, network: { maxTxBandwidth: 10e9 }, ...host },
        intervalMs,
      }),
    unary,
    metricsText: async () => {
      const response = await fetch(`http://127.0.0.1:${scheduler.metricsPort}/metrics`);
      return response.text();
    },
  };
}

export const TEST_URL = 'http://origin.test/blob.bin';
export const TASK_ID = taskIdOf({ url: TEST_URL });
export const PIECE_LENGTH = 4 * 1024 * 1024;

/** A Download for a task of `pieces` pieces of 4 MiB (the last one full). */
export function download(pieces = 4, extra: Partial<commonv2.Download> = {}): commonv2.Download {
  return {
    url: TEST_URL,
    priority: 'LEVEL6',
    actualContentLength: pieces * PIECE_LENGTH,
    actualPieceLength: PIECE_LENGTH,
    actualPieceCount: pieces,
    ...extra,
  };
}

export interface StreamEnd {
  readonly code: number;
  readonly details: string;
}

/** An AnnouncePeer stream with bounded waits for its responses and its final status. */
export class PeerStreamClient {
  readonly call: grpc.ClientDuplexStream<schedulerv2.AnnouncePeerRequest, schedulerv2.AnnouncePeerResponse__Output>;
  readonly ids: { hostId: string; taskId: string; peerId: string };
  private readonly responses: schedulerv2.AnnouncePeerResponse__Output[] = [];
  private waiter: (() => void) | undefined;
  readonly ended: Promise<StreamEnd>;

  constructor(client: schedulerv2.SchedulerClient, ids: { hostId: string; taskId?: string; peerId: string }) {
    this.ids = { taskId: TASK_ID, ...ids };
    this.call = client.AnnouncePeer();
    this.call.on('data', (response: schedulerv2.AnnouncePeerResponse__Output) => {
      this.responses.push(response);
      this.waiter?.();
    });
    this.ended = new Promise((resolve) => {
      this.call.on('status', (status) => {
        resolve({ code: status.code, details: status.details });
        this.waiter?.();
      });
    });
    // The status carries the outcome; the error event only repeats it.
    this.call.on('error', () => {});
  }

  send(request: Omit<schedulerv2.AnnouncePeerRequest, 'hostId' | 'taskId' | 'peerId'> & Partial<schedulerv2.AnnouncePeerRequest>): void {
    this.call.write({ ...this.ids, ...request });
  }

  register(dl: commonv2.Download = download()): void {
    this.send({ registerPeerRequest: { download: dl } });
  }

  /** The next response; fails after WAIT_MS or when the stream ends first. */
  async next(): Promise<schedulerv2.AnnouncePeerResponse__Output> {
    const deadline = Date.now() + WAIT_MS;
    let ended: StreamEnd | undefined;
    void this.ended.then((status) => (ended = status));
    while (this.responses.length === 0) {
      if (ended) throw new Error(`stream ended (${ended.code} ${ended.details}) before a response`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${WAIT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.responses.shift()!;
  }

  /** The final status; fails after WAIT_MS. */
  async status(): Promise<StreamEnd> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`stream did not end within ${WAIT_MS} ms`)), WAIT_MS);
    });
    try {
      return await Promise.race([this.ended, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  piece(number: number, parentId?: string, extra: Partial<commonv2.Piece> = {}): void {
    const piece = { number, offset: number * PIECE_LENGTH, length: PIECE_LENGTH, digest: 'crc32:1475635037', costMs: 10, createdAtMs: Date.now(), ...extra };
    if (parentId === undefined) this.send({ downloadPieceBackToSourceFinishedRequest: { piece: { ...piece, trafficType: 'BACK_TO_SOURCE' } } });
    else this.send({ downloadPieceFinishedRequest: { piece: { ...piece, parentId, trafficType: 'REMOTE_PEER' } } });
  }

  close(): void {
    this.call.end();
  }

  cancel(): void {
    this.call.cancel();
  }
}

/** Polls `check` until it returns a value, at most WAIT_MS. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
