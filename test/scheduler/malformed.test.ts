/**
 * Bad input ends only its own stream or call, with INVALID_ARGUMENT / NOT_FOUND / ALREADY_EXISTS,
 * while a well-behaved peer on another stream goes on downloading.
 */
import assert from 'node:assert/strict';
import { test } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import type { commonv2, schedulerv2 } from '../../api/index.ts';
import { download, PIECE_LENGTH, startHarness, TASK_ID, WAIT_MS, type Harness } from './support.ts';

type Request = Partial<schedulerv2.AnnouncePeerRequest>;

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no status within ${WAIT_MS} ms`)), WAIT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

const GOOD_HOST = 'host-good';
const BAD_HOST = 'host-bad';

/** Each case: the messages a bad client sends on a fresh stream, and the status it must get. */
const STREAM_CASES: readonly { name: string; messages: (h: Harness) => Request[]; code: grpc.status }[] = [
  { name: 'no oneof variant', messages: () => [{ hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-1' }], code: grpc.status.INVALID_ARGUMENT },
  {
    name: 'unknown host',
    messages: () => [{ hostId: 'nobody', taskId: TASK_ID, peerId: 'bad-2', registerPeerRequest: { download: download() } }],
    code: grpc.status.NOT_FOUND,
  },
  {
    name: 'task id that is not 64 hex digits',
    messages: () => [{ hostId: BAD_HOST, taskId: '../../etc/passwd', peerId: 'bad-3', registerPeerRequest: { download: download() } }],
    code: grpc.status.INVALID_ARGUMENT,
  },
  {
    name: 'report before register (unknown peer)',
    messages: () => [{ hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-4', downloadPeerStartedRequest: {} }],
    code: grpc.status.NOT_FOUND,
  },
  {
    name: 'piece number past the last piece',
    messages: () => [
      { hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-5', registerPeerRequest: { download: download(4, { needBackToSource: true }) } },
      { hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-5', downloadPieceBackToSourceFinishedRequest: { piece: { number: 100_000, length: 1 } } },
    ],
    code: grpc.status.INVALID_ARGUMENT,
  },
  {
    name: 'negative piece number (wraps to 2^32-1 as uint32)',
    messages: () => [
      { hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-6', registerPeerRequest: { download: download(4, { needBackToSource: true }) } },
      { hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-6', downloadPieceFinishedRequest: { piece: { number: -1, length: 1, parentId: 'x' } } },
    ],
    code: grpc.status.INVALID_ARGUMENT,
  },
  {
    name: 'content length past 2^53',
    messages: () => [
      { hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-7', registerPeerRequest: { download: download(4, { actualContentLength: '1152921504606846976' }) } },
    ],
    code: grpc.status.INVALID_ARGUMENT,
  },
  {
    name: 'peer id of 100,000 characters',
    messages: () => [{ hostId: BAD_HOST, taskId: TASK_ID, peerId: 'p'.repeat(100_000), registerPeerRequest: { download: download() } }],
    code: grpc.status.INVALID_ARGUMENT,
  },
  {
    name: 'piece count that does not match the length',
    messages: () => [{ hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-9', registerPeerRequest: { download: download(4, { actualPieceCount: 7 }) } }],
    code: grpc.status.INVALID_ARGUMENT,
  },
  {
    name: 'priority outside LEVEL0-6',
    messages: () => [{ hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-10', registerPeerRequest: { download: download(4, { priority: 9 as 6 }) } }],
    code: grpc.status.INVALID_ARGUMENT,
  },
  {
    name: 'a piece digest that is not alg:value',
    messages: () => [
      { hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-11', registerPeerRequest: { download: download(4, { needBackToSource: true }) } },
      { hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-11', downloadPieceBackToSourceFinishedRequest: { piece: { number: 0, length: 1, digest: 'md5' } } },
    ],
    code: grpc.status.INVALID_ARGUMENT,
  },
  {
    name: 'a second register on the same stream',
    messages: () => [
      { hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-12', registerPeerRequest: { download: download(4, { needBackToSource: true }) } },
      { hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-12b', registerPeerRequest: { download: download(4, { needBackToSource: true }) } },
    ],
    code: grpc.status.INVALID_ARGUMENT,
  },
  {
    name: "another peer's id on a registered stream",
    messages: () => [
      { hostId: BAD_HOST, taskId: TASK_ID, peerId: 'bad-13', registerPeerRequest: { download: download(4, { needBackToSource: true }) } },
      { hostId: BAD_HOST, taskId: TASK_ID, peerId: 'peer-good', downloadPeerFailedRequest: {} },
    ],
    code: grpc.status.INVALID_ARGUMENT,
  },
  {
    name: 'a peer id that is already registered',
    messages: () => [{ hostId: BAD_HOST, taskId: TASK_ID, peerId: 'peer-good', registerPeerRequest: { download: download() } }],
    code: grpc.status.ALREADY_EXISTS,
  },
];

test('malformed AnnouncePeer streams fail alone while another stream keeps working', async (t) => {
  const h = await startHarness(t);
  await h.announceHost({ id: GOOD_HOST });
  await h.announceHost({ id: BAD_HOST });
  const good = h.peer(GOOD_HOST, 'peer-good');
  good.register(download(STREAM_CASES.length + 1));
  assert.equal((await good.next()).response, 'needBackToSourceResponse');
  good.send({ downloadPeerBackToSourceStartedRequest: {} });

  let piece = 0;
  for (const c of STREAM_CASES) {
    const call = h.client.AnnouncePeer();
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => {});
    call.on('data', () => {});
    for (const message of c.messages(h)) call.write(message as schedulerv2.AnnouncePeerRequest);
    const end = await withTimeout(status, c.name);
    assert.equal(end.code, c.code, `${c.name}: got ${end.code} ${end.details}`);
    good.piece(piece++);
  }

  // Bytes that are not a protobuf message at all.
  const raw = h.client.makeBidiStreamRequest('/scheduler.v2.Scheduler/AnnouncePeer', (b: Buffer) => b, (b: Buffer) => b);
  const rawStatus = new Promise<grpc.StatusObject>((resolve) => raw.on('status', resolve));
  raw.on('error', () => {});
  raw.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
  assert.notEqual((await withTimeout(rawStatus, 'raw bytes')).code, grpc.status.OK);
  good.piece(piece++);

  good.send({ downloadPeerBackToSourceFinishedRequest: { contentLength: piece * PIECE_LENGTH, pieceCount: piece } });
  assert.equal((await good.status()).code, grpc.status.OK);
  const stat = await h.unary<unknown, commonv2.Peer__Output>('StatPeer', { peerId: 'peer-good' });
  assert.equal(stat.state, 'Succeeded');
  assert.equal(stat.pieces.length, piece);
});

test('malformed unary calls answer INVALID_ARGUMENT or NOT_FOUND', async (t) => {
  const h = await startHarness(t);
  const cases: readonly [string, unknown, grpc.status][] = [
    ['AnnounceHost', {}, grpc.status.INVALID_ARGUMENT],
    ['AnnounceHost', { host: { id: 'h', ip: '127.0.0.1', port: 70000 } }, grpc.status.INVALID_ARGUMENT],
    ['AnnounceHost', { host: { id: 'h', ip: '', port: 4000 } }, grpc.status.INVALID_ARGUMENT],
    ['AnnounceHost', { host: { id: 'h', ip: '127.0.0.1', port: 4000, type: 5 } }, grpc.status.INVALID_ARGUMENT],
    ['AnnounceHost', { host: { id: 'x'.repeat(10_000), ip: '127.0.0.1', port: 4000 } }, grpc.status.INVALID_ARGUMENT],
    ['StatTask', { taskId: TASK_ID }, grpc.status.NOT_FOUND],
    ['StatTask', { taskId: 'nope' }, grpc.status.INVALID_ARGUMENT],
    ['StatPeer', { peerId: 'nope' }, grpc.status.NOT_FOUND],
    ['LeavePeer', { peerId: 'nope' }, grpc.status.NOT_FOUND],
    ['LeaveHost', { hostId: 'nope' }, grpc.status.NOT_FOUND],
    ['ListHosts', { type: 7 }, grpc.status.INVALID_ARGUMENT],
  ];
  for (const [method, request, code] of cases) {
    const error = await h.unary(method, request).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    assert.equal(error?.code, code, `${method} ${JSON.stringify(request).slice(0, 80)}`);
  }
  await h.announceHost({ id: 'fine' });
  const { hosts } = await h.unary<unknown, schedulerv2.ListHostsResponse__Output>('ListHosts', {});
  assert.deepEqual(hosts.map((host) => host.id), ['fine']);
});
