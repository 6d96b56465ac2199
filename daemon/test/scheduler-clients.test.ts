import { test } from 'vitest';
import assert from 'node:assert/strict';
import { ownerOf, taskIdOf } from '../../api/index.ts';
import { SchedulerClients } from '../scheduler/clients.ts';

// Real grpc-js clients: creating one opens no connection until a call is made.
test('forTask sends a task to its rendezvous owner, whatever the order of scheduler.addrs', () => {
  const addrs = ['10.0.0.1:8002', '10.0.0.2:8002', '10.0.0.3:8002'];
  const a = new SchedulerClients(addrs);
  const b = new SchedulerClients([...addrs].reverse());
  try {
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const taskId = taskIdOf({ url: `http://origin/file-${i}` });
      const owner = a.forTask(taskId);
      assert.equal(owner.addr, ownerOf(taskId, addrs));
      assert.equal(b.forTask(taskId).addr, owner.addr);
      assert.equal(a.forTask(taskId).client, owner.client, 'one client per scheduler');
      seen.add(owner.addr);
    }
    assert.equal(seen.size, addrs.length, 'every scheduler owns some tasks');
  } finally {
    a.close();
    b.close();
  }
});
