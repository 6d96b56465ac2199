/** GC by TTL over the real server, with intervals of milliseconds. */
import assert from 'node:assert/strict';
import { test } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import type { commonv2, schedulerv2 } from '../../api/index.ts';
import { eventually, startHarness, TASK_ID } from './support.ts';

const FAST_GC = { peerGCInterval: '20ms', taskGCInterval: '20ms', hostGCInterval: '20ms' };

async function hostIds(h: Awaited<ReturnType<typeof startHarness>>): Promise<string[]> {
  const { hosts } = await h.unary<unknown, schedulerv2.ListHostsResponse__Output>('ListHosts', {});
  return hosts.map((host) => host.id).sort();
}

test('a host that misses two announces is forgotten; one that keeps announcing stays', async (t) => {
  const h = await startHarness(t, { scheduler: { gc: FAST_GC } });
  await h.announceHost({ id: 'quiet' }, 50);
  await h.announceHost({ id: 'chatty' }, 60_000);
  assert.deepEqual(await hostIds(h), ['chatty', 'quiet']);
  await eventually(async () => (await hostIds(h)).length === 1, 'quiet host forgotten');
  assert.deepEqual(await hostIds(h), ['chatty']);
  assert.match(await h.metricsText(), /dragonfly_scheduler_gc_reclaimed_total\{type="host"\} 1/);
});

test('a host without an interval is kept for hostTTL', async (t) => {
  const h = await startHarness(t, { scheduler: { gc: { ...FAST_GC, hostTTL: '100ms' } } });
  await h.announceHost({ id: 'a' });
  await eventually(async () => (await hostIds(h)).length === 0, 'host forgotten after hostTTL');
});

test('a failed peer leaves and is removed, then its empty task, while the host stays', async (t) => {
  const h = await startHarness(t, { scheduler: { gc: FAST_GC } });
  await h.announceHost({ id: 'host-a' }, 60_000);
  const peer = h.peer('host-a', 'peer-a');
  peer.register();
  assert.equal((await peer.next()).response, 'needBackToSourceResponse');
  peer.send({ downloadPeerFailedRequest: { description: 'disk full' } });
  assert.equal((await peer.status()).code, grpc.status.OK);
  const gone = (method: string, request: object) =>
    h.unary(method, request).then(
      () => false,
      (error: grpc.ServiceError) => error.code === grpc.status.NOT_FOUND,
    );
  await eventually(() => gone('StatPeer', { peerId: 'peer-a' }), 'peer removed');
  await eventually(() => gone('StatTask', { taskId: TASK_ID }), 'task removed');
  assert.deepEqual(await hostIds(h), ['host-a']);
});

test('LeaveHost makes its peers leave; LeavePeer stops a peer waiting for parents', async (t) => {
  const h = await startHarness(t, { scheduler: { retryInterval: '1s', retryBackToSourceLimit: 100, retryLimit: 200 } });
  await h.announceHost({ id: 'host-a' });
  await h.announceHost({ id: 'host-b' });
  const a = h.peer('host-a', 'peer-a');
  a.register();
  assert.equal((await a.next()).response, 'needBackToSourceResponse');
  // peer-b waits: peer-a has not started, so nobody can serve it.
  const b = h.peer('host-b', 'peer-b');
  b.register();
  await eventually(async () => (await h.unary<unknown, commonv2.Peer__Output>('StatPeer', { peerId: 'peer-b' })).state === 'ReceivedNormal', 'peer-b waiting');
  await h.unary('LeavePeer', { peerId: 'peer-b' });
  assert.equal((await b.status()).code, grpc.status.CANCELLED);
  assert.equal((await h.unary<unknown, commonv2.Peer__Output>('StatPeer', { peerId: 'peer-b' })).state, 'Leave');

  await h.unary('LeaveHost', { hostId: 'host-a' });
  assert.equal((await h.unary<unknown, commonv2.Peer__Output>('StatPeer', { peerId: 'peer-a' })).state, 'Leave');
  assert.deepEqual(await hostIds(h), ['host-b']);
  a.cancel();
});
