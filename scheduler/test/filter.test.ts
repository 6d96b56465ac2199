import assert from 'node:assert/strict';
import { test } from 'vitest';
import { PeerState } from '../resource/fsm.ts';
import { filterCandidateParents, rejectReason, type RejectReason } from '../scheduling/filter.ts';
import { World } from './fixtures.ts';

test('each rule rejects what it should, in Dragonfly order', () => {
  const w = new World();
  const child = w.peer('child', PeerState.ReceivedNormal, { host: 'h-child' });
  const cases: readonly [string, () => ReturnType<World['peer']>, RejectReason | undefined, Set<string>?][] = [
    ['succeeded peer', () => w.peer('ok-succeeded', PeerState.Succeeded), undefined],
    ['back-to-source peer without pieces', () => w.peer('ok-bts', PeerState.BackToSource), undefined],
    ['running peer with a piece', () => w.peer('ok-running', PeerState.Running, { pieces: 1 }), undefined],
    ['seed downloading from the origin, no piece yet', () => w.peer('ok-seed', PeerState.BackToSource, { hostExtra: { type: 'seed' } }), undefined],
    ['seed running, no piece yet', () => w.peer('ok-seed-running', PeerState.Running, { hostExtra: { type: 'seed' } }), undefined],
    ['blocklisted', () => w.peer('blocked', PeerState.Succeeded), 'blocklisted', new Set(['blocked'])],
    ['itself', () => child, 'blocklisted'],
    ['disable_shared host', () => w.peer('leech', PeerState.Succeeded, { hostExtra: { disableShared: true } }), 'disableShared'],
    ['same host', () => w.peer('sibling', PeerState.Succeeded, { host: 'h-child' }), 'sameHost'],
    ['normal peer running without a piece or a parent', () => w.peer('empty-running', PeerState.Running), 'notServing'],
    [
      'normal peer running with a parent, no piece yet',
      () => {
        const parent = w.peer('its-parent', PeerState.Succeeded, { host: 'h-its-parent' });
        const peer = w.peer('fed', PeerState.Running, { host: 'h-fed' });
        peer.task.addPeerEdge(parent, peer);
        return peer;
      },
      undefined,
    ],
    [
      'normal peer just given a parent, not started yet (peers registering in the same instant)',
      () => {
        const parent = w.peer('its-parent-2', PeerState.Running, { host: 'h-its-parent-2', pieces: 1 });
        const peer = w.peer('scheduled', PeerState.ReceivedNormal, { host: 'h-scheduled' });
        peer.task.addPeerEdge(parent, peer);
        return peer;
      },
      undefined,
    ],
    ['normal peer waiting for parents', () => w.peer('waiting', PeerState.ReceivedNormal), 'notServing'],
    ['seed not started', () => w.peer('seed-pending', PeerState.ReceivedNormal, { hostExtra: { type: 'seed' } }), 'badParent'],
    ['failed peer', () => w.peer('failed', PeerState.Failed, { pieces: 3 }), 'badParent'],
    ['left peer', () => w.peer('left', PeerState.Leave, { pieces: 3 }), 'badParent'],
    ['slow last piece', () => w.peer('slow', PeerState.Running, { pieces: 3, costs: [10, 10, 500] }), 'badParent'],
  ];
  for (const [name, make, expected, blocklist] of cases) {
    assert.equal(rejectReason(make(), child, blocklist ?? new Set([child.id])), expected, name);
  }
});

test('a candidate that descends from the child would close a cycle', () => {
  const w = new World();
  const child = w.peer('child', PeerState.Running, { pieces: 1 });
  const grandchild = w.peer('grandchild', PeerState.Running, { pieces: 2 });
  w.task.addPeerEdge(child, grandchild);
  assert.equal(rejectReason(grandchild, child, new Set()), 'cycle');
  const unrelated = w.peer('unrelated', PeerState.Running, { pieces: 2 });
  assert.equal(rejectReason(unrelated, child, new Set()), undefined);
});

test('the sample is at most filterParentLimit peers of the task', () => {
  const w = new World();
  const child = w.peer('child', PeerState.ReceivedNormal);
  for (let i = 0; i < 100; i++) w.peer(`p${i}`, PeerState.Succeeded);
  const { parents, rejected } = filterCandidateParents(child, new Set([child.id]), 15);
  assert.ok(parents.length + rejected.length === 15);
  assert.ok(parents.length >= 14);
  const all = filterCandidateParents(child, new Set([child.id]), 1000);
  assert.equal(all.parents.length, 100);
  assert.deepEqual(all.rejected, [{ id: 'child', reason: 'blocklisted' }]);
});

test('an edge bumps the parent host projected load and its removal gives it back', () => {
  const w = new World({ pieceCount: 10 });
  const parent = w.peer('parent', PeerState.Succeeded, { hostExtra: { txBandwidth: 1000, uploadContentLength: 5, concurrentUploadPieceCount: 1 } });
  const child = w.peer('child', PeerState.ReceivedNormal);
  const host = parent.host;
  w.task.addPeerEdge(parent, child);
  assert.equal(host.txBandwidth, 1000 + 8 * 4 * 1024 * 1024 * 8);
  assert.equal(host.concurrentUploadPieceCount, 1 + 8);
  assert.equal(host.uploadContentLength, 5 + 10 * 4 * 1024 * 1024);
  assert.equal(host.concurrentUploadCount, 1);
  w.task.deletePeerInEdges(child);
  assert.deepEqual([host.txBandwidth, host.concurrentUploadPieceCount, host.uploadContentLength, host.concurrentUploadCount], [1000, 1, 5, 0]);
  // A re-announce replaces the projection with what the host measured.
  w.task.addPeerEdge(parent, child);
  w.resources.announceHost({ ...host.info, txBandwidth: 42 }, 30_000, w.now);
  assert.equal(host.txBandwidth, 42);
});
