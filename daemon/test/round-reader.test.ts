/**
 * Reading the AnnouncePeer stream while a round runs (daemon/p2p/round-reader.ts), over real gRPC:
 * a real grpc-js server whose AnnouncePeer handler is a script of answers (the real scheduler
 * does not push striped plans mid-round yet), and the daemon's AnnounceStream as the client.
 * Every answer is consumed exactly once, by the reader or by next(), in the order it was sent.
 */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import type { schedulerv2 } from '../../api/index.ts';
import { SchedulerLostError } from '../errors.ts';
import { AnnounceStream } from '../p2p/announce-stream.ts';
import { readDuringRound } from '../p2p/round-reader.ts';
import { grpc, loadProtos } from '../rpc/grpc.ts';
import { scriptedScheduler, type AnnounceCall } from './rig.ts';


const normal = (id: string, stripeCount = 0): schedulerv2.AnnouncePeerResponse => ({
  normalTaskResponse: {
    candidateParents: [{ id, host: { id: `${id}-host`, ip: '127.0.0.1', port: 1 } }],
    stripeCount,
    stripeParents: stripeCount > 1 ? [{ stripe: 0, parentId: id, backupIds: [] }] : [],
  },
});
const backToSource: schedulerv2.AnnouncePeerResponse = { needBackToSourceResponse: { description: 'go to the origin' } };

/** A scheduler script over real gRPC (`onRequest` answers each request the peer sends), and the peer's stream to it. */
async function scriptedStream(t: TestContext, onRequest: (request: schedulerv2.AnnouncePeerRequest__Output, call: AnnounceCall) => void) {
  const port = await scriptedScheduler(t, onRequest);
  const client = new (loadProtos().scheduler.Scheduler)(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.onTestFinished(() => client.close());
  const stream = new AnnounceStream(client, { hostId: 'h', taskId: 't'.repeat(64), peerId: 'p' }, `127.0.0.1:${port}`);
  t.onTestFinished(() => stream.cancel());
  return stream;
}

const parentOf = (normal: schedulerv2.NormalTaskResponse__Output | null | undefined) => normal?.candidateParents[0]?.id;
const idOf = (response: schedulerv2.AnnouncePeerResponse__Output) => parentOf(response.normalTaskResponse);

test('plans pushed mid-round are applied in order and consumed once; the first other answer stays for next(), and so does all after it', async (t) => {
  const stream = await scriptedStream(t, (request, call) => {
    if (request.registerPeerRequest) call.write(normal('p1'));
    // Pushed in one burst while the round runs, as a scheduler re-attaching this peer would.
    if (request.downloadPeerStartedRequest) for (const answer of [normal('p2', 2), normal('p3', 4), backToSource, normal('p4', 2)]) call.write(answer);
  });
  stream.send({ registerPeerRequest: {} });
  assert.equal(idOf(await stream.next(5_000)), 'p1', 'the first answer, read by the loop');

  const applied: Array<[string | undefined, number]> = [];
  const other = Promise.withResolvers<schedulerv2.AnnouncePeerResponse__Output>();
  const reader = readDuringRound(stream, { plan: (response) => applied.push([parentOf(response), response.stripeCount]), other: other.resolve });
  stream.send({ downloadPeerStartedRequest: {} });
  const stopping = await other.promise;
  await reader.stop();
  assert.deepEqual(applied, [
    ['p2', 2],
    ['p3', 4],
  ]);
  assert.ok(stopping.needBackToSourceResponse, 'the round is stopped for the back-to-source answer');
  assert.equal((await stream.next(5_000)).needBackToSourceResponse?.description, 'go to the origin', 'next() reads it, once');
  assert.equal(idOf(await stream.next(5_000)), 'p4', 'and what came after it is still there, in order');
});

test('stopped with nothing waiting, the reader consumes nothing more: a later answer goes to next()', async (t) => {
  let call: AnnounceCall | undefined;
  const stream = await scriptedStream(t, (request, c) => {
    call = c;
    if (request.registerPeerRequest) c.write(normal('p1'));
  });
  stream.send({ registerPeerRequest: {} });
  await stream.next(5_000);
  const applied: string[] = [];
  const reader = readDuringRound(stream, { plan: (response) => applied.push(parentOf(response) ?? ''), other: () => assert.fail('no other answer came') });
  await reader.stop();
  call!.write(normal('p2', 2));
  assert.equal(idOf(await stream.next(5_000)), 'p2');
  assert.deepEqual(applied, []);
});

test('a stream that breaks mid-round: the reader stops quietly (the round goes on) and next() reports the break', async (t) => {
  const stream = await scriptedStream(t, (request, call) => {
    if (request.registerPeerRequest) call.write(normal('p1'));
    if (request.downloadPeerStartedRequest) {
      call.write(normal('p2', 2));
      setTimeout(() => call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'scheduler going away' }), 50);
    }
  });
  stream.send({ registerPeerRequest: {} });
  await stream.next(5_000);
  const applied: string[] = [];
  let others = 0;
  const reader = readDuringRound(stream, { plan: (response) => applied.push(parentOf(response) ?? ''), other: () => others++ });
  stream.send({ downloadPeerStartedRequest: {} });
  const deadline = Date.now() + 10_000;
  while (!stream.broken && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  await reader.stop();
  assert.deepEqual(applied, ['p2']);
  assert.equal(others, 0, 'a break is not an answer for the loop to handle mid-round');
  await assert.rejects(stream.next(5_000), (error: unknown) => error instanceof SchedulerLostError && error.grpcCode === grpc.status.UNAVAILABLE);
});
