/** AnnouncePeer over a real gRPC server with real grpc-js clients: the protocol in scheduler/README.md. */
import assert from 'node:assert/strict';
import { test } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import type { commonv2 } from '../../api/index.ts';
import { download, eventually, startHarness, TASK_ID, type Harness, type PeerStreamClient } from './support.ts';

/** A peer that downloads the whole task from the origin and finishes. */
async function backToSourcePeer(h: Harness, hostId: string, peerId: string, pieces = 4): Promise<PeerStreamClient> {
  const peer = h.peer(hostId, peerId);
  peer.register(download(pieces, { needBackToSource: true }));
  const first = await peer.next();
  assert.equal(first.response, 'needBackToSourceResponse');
  peer.send({ downloadPeerBackToSourceStartedRequest: {} });
  for (let n = 0; n < pieces; n++) peer.piece(n);
  return peer;
}

test('register with no seed host answers NeedBackToSource', async (t) => {
  const h = await startHarness(t);
  await h.announceHost({ id: 'host-a' });
  const peer = h.peer('host-a', 'peer-a');
  peer.register();
  const response = await peer.next();
  assert.equal(response.response, 'needBackToSourceResponse');
  peer.send({ downloadPeerBackToSourceStartedRequest: {} });
  // A failed origin piece is counted and the stream goes on; the peer retries it.
  peer.send({ downloadPieceBackToSourceFailedRequest: { pieceNumber: 2, description: 'reset by peer', statusCode: 503 } });
  for (let n = 0; n < 4; n++) peer.piece(n);
  peer.send({ downloadPeerBackToSourceFinishedRequest: { contentLength: download().actualContentLength, pieceCount: 4 } });
  assert.deepEqual(await peer.status(), { code: grpc.status.OK, details: 'OK' });
  const metrics = await h.metricsText();
  assert.match(metrics, /dragonfly_scheduler_download_piece_finished_failure_total\{traffic_type="BACK_TO_SOURCE",task_type="STANDARD",host_type="normal"\} 1/);
  assert.match(metrics, /dragonfly_scheduler_traffic\{type="BACK_TO_SOURCE",task_type="STANDARD",host_type="normal"\} 16777216/);
  const task = await h.unary<unknown, commonv2.Task__Output>('StatTask', { taskId: TASK_ID });
  assert.equal(task.state, 'Succeeded');
  assert.equal(task.pieces.length, 4);
  assert.equal(task.contentLength, download().actualContentLength);
});

test('a peer that finished from the origin is the next peer\'s candidate parent, with its addresses', async (t) => {
  const h = await startHarness(t);
  await h.announceHost({ id: 'host-a', ip: '10.0.0.1', port: 4100, downloadPort: 4105 });
  await h.announceHost({ id: 'host-b', ip: '10.0.0.2' });
  const first = await backToSourcePeer(h, 'host-a', 'peer-a');
  first.send({ downloadPeerBackToSourceFinishedRequest: { contentLength: download().actualContentLength, pieceCount: 4 } });
  assert.equal((await first.status()).code, grpc.status.OK);

  const second = h.peer('host-b', 'peer-b');
  second.register();
  const response = await second.next();
  assert.equal(response.response, 'normalTaskResponse');
  const parents = response.normalTaskResponse!.candidateParents;
  assert.equal(parents.length, 1);
  assert.equal(parents[0]!.id, 'peer-a');
  assert.equal(parents[0]!.state, 'Succeeded');
  assert.equal(parents[0]!.host!.ip, '10.0.0.1');
  assert.equal(parents[0]!.host!.port, 4100);
  assert.equal(parents[0]!.host!.downloadPort, 4105);
  assert.equal(parents[0]!.task!.pieceCount, 4);

  second.send({ downloadPeerStartedRequest: {} });
  for (let n = 0; n < 4; n++) second.piece(n, 'peer-a');
  second.send({ downloadPeerFinishedRequest: { contentLength: download().actualContentLength, pieceCount: 4 } });
  assert.equal((await second.status()).code, grpc.status.OK);
  const stat = await h.unary<unknown, commonv2.Peer__Output>('StatPeer', { peerId: 'peer-b' });
  assert.equal(stat.state, 'Succeeded');
  assert.equal(stat.pieces.length, 4);
  const metrics = await h.metricsText();
  assert.match(metrics, /dragonfly_scheduler_download_piece_finished_total\{traffic_type="REMOTE_PEER",task_type="STANDARD",host_type="normal"\} 4/);
  assert.match(metrics, /dragonfly_scheduler_register_peer_total\{priority="LEVEL6",task_type="STANDARD",host_type="normal"\} 2/);
  assert.match(metrics, /dragonfly_scheduler_schedule_duration_milliseconds_count 2/);
});

test('a peer downloading from the origin is a candidate before it has a piece', async (t) => {
  const h = await startHarness(t);
  await h.announceHost({ id: 'host-a' });
  await h.announceHost({ id: 'host-b' });
  const first = h.peer('host-a', 'peer-a');
  first.register();
  assert.equal((await first.next()).response, 'needBackToSourceResponse');
  first.send({ downloadPeerBackToSourceStartedRequest: {} });

  const second = h.peer('host-b', 'peer-b');
  second.register();
  const response = await second.next();
  assert.equal(response.response, 'normalTaskResponse');
  assert.deepEqual(
    response.normalTaskResponse!.candidateParents.map((p) => [p.id, p.state]),
    [['peer-a', 'BackToSource']],
  );
  first.close();
  second.close();
});

test('content length 0 answers EmptyTaskResponse', async (t) => {
  const h = await startHarness(t);
  await h.announceHost({ id: 'host-a' });
  const peer = h.peer('host-a', 'peer-a');
  peer.register(download(0, { actualContentLength: 0, actualPieceCount: 0 }));
  assert.equal((await peer.next()).response, 'emptyTaskResponse');
  peer.send({ downloadPeerStartedRequest: {} });
  peer.send({ downloadPeerFinishedRequest: { contentLength: 0, pieceCount: 0 } });
  assert.equal((await peer.status()).code, grpc.status.OK);
  const stat = await h.unary<unknown, commonv2.Peer__Output>('StatPeer', { peerId: 'peer-a' });
  assert.equal(stat.state, 'Succeeded');
});

test('reschedule blocklists the listed parents; DownloadPieceFailed blocklists that parent', async (t) => {
  const h = await startHarness(t, { scheduler: { retryBackToSourceLimit: 2 } });
  for (const id of ['host-a', 'host-b', 'host-c']) await h.announceHost({ id });
  const a = await backToSourcePeer(h, 'host-a', 'peer-a');
  const b = await backToSourcePeer(h, 'host-b', 'peer-b');

  const c = h.peer('host-c', 'peer-c');
  c.register();
  const first = await c.next();
  assert.equal(first.response, 'normalTaskResponse');
  assert.deepEqual(first.normalTaskResponse!.candidateParents.map((p) => p.id).sort(), ['peer-a', 'peer-b']);
  c.send({ downloadPeerStartedRequest: {} });

  // peer-a's pieces fail: it is blocklisted, the rescheduled peer gets peer-b only.
  c.send({ downloadPieceFailedRequest: { pieceNumber: 0, parentId: 'peer-a', temporary: true } });
  c.send({ reschedulePeerRequest: { candidateParents: [], description: 'piece failed' } });
  const second = await c.next();
  assert.deepEqual(second.normalTaskResponse!.candidateParents.map((p) => p.id), ['peer-b']);

  // Rescheduling away from peer-b leaves nobody: after the retry limit, the origin.
  c.send({ reschedulePeerRequest: { candidateParents: [{ id: 'peer-b' }] } });
  const third = await c.next();
  assert.equal(third.response, 'needBackToSourceResponse');
  assert.equal(third.needBackToSourceResponse!.description, 'scheduling exceeded RetryBackToSourceLimit');
  for (const s of [a, b, c]) s.close();
});

test('no parent and the origin closed to more peers: FAILED_PRECONDITION after retryLimit', async (t) => {
  // backToSourceCount 0: the task may never go to the origin, so NeedBackToSource is never an answer.
  const h = await startHarness(t, { scheduler: { backToSourceCount: 0, retryLimit: 3 } });
  await h.announceHost({ id: 'host-a' });
  const a = h.peer('host-a', 'peer-a');
  a.register();
  const end = await a.status();
  assert.equal(end.code, grpc.status.FAILED_PRECONDITION);
  assert.match(end.details, /RetryLimit/);
  const stat = await h.unary<unknown, commonv2.Peer__Output>('StatPeer', { peerId: 'peer-a' });
  assert.equal(stat.state, 'Failed');
  assert.match(await h.metricsText(), /dragonfly_scheduler_register_peer_failure_total\{priority="LEVEL6",task_type="STANDARD",host_type="normal"\} 1/);
});

test('a stream that ends without Finished leaves its peer Failed', async (t) => {
  const h = await startHarness(t);
  await h.announceHost({ id: 'host-a' });
  const peer = h.peer('host-a', 'peer-a');
  peer.register();
  assert.equal((await peer.next()).response, 'needBackToSourceResponse');
  peer.send({ downloadPeerBackToSourceStartedRequest: {} });
  peer.piece(0);
  peer.cancel();
  await eventually(async () => (await h.unary<unknown, commonv2.Peer__Output>('StatPeer', { peerId: 'peer-a' })).state === 'Failed', 'peer failed');
});

test('DownloadPeerBackToSourceFailed fails the task; the next peer goes to the origin again', async (t) => {
  const h = await startHarness(t);
  await h.announceHost({ id: 'host-a' });
  await h.announceHost({ id: 'host-b' });
  const a = await backToSourcePeer(h, 'host-a', 'peer-a', 2);
  assert.equal((await h.unary<unknown, commonv2.Task__Output>('StatTask', { taskId: TASK_ID })).state, 'Running');
  a.send({ downloadPeerBackToSourceFailedRequest: { description: 'origin said 500' } });
  assert.equal((await a.status()).code, grpc.status.OK);
  const task = await h.unary<unknown, commonv2.Task__Output>('StatTask', { taskId: TASK_ID });
  assert.equal(task.state, 'Failed');
  const b = h.peer('host-b', 'peer-b');
  b.register();
  assert.equal((await b.next()).response, 'needBackToSourceResponse');
  b.close();
});

test('closing the scheduler ends open streams with UNAVAILABLE, and a waiting register too', async (t) => {
  const h = await startHarness(t, { scheduler: { retryInterval: '10s' } });
  await h.announceHost({ id: 'host-a' });
  await h.announceHost({ id: 'host-b' });
  const a = h.peer('host-a', 'peer-a');
  a.register();
  assert.equal((await a.next()).response, 'needBackToSourceResponse');
  const b = h.peer('host-b', 'peer-b');
  b.register();
  await eventually(async () => (await h.unary<unknown, commonv2.Peer__Output>('StatPeer', { peerId: 'peer-b' })).state === 'ReceivedNormal', 'peer-b waiting');
  await h.scheduler.close();
  for (const stream of [a, b]) {
    const end = await stream.status();
    assert.equal(end.code, grpc.status.UNAVAILABLE);
    assert.equal(end.details, 'the scheduler is shutting down');
  }
});
