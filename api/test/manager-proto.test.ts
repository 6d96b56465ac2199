import { test } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR, PROTO_FILES, PROTO_LOADER_OPTIONS, type managerv2 } from '../index.ts';

function load(): protoLoader.PackageDefinition {
  assert.ok(PROTO_FILES.includes('manager.proto'));
  return protoLoader.loadSync(
    PROTO_FILES.map((file) => join(PROTO_DIR, file)),
    { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] },
  );
}

test('manager.v2.Manager loads with the project loader options and has its methods', () => {
  const definition = load();
  const service = definition['manager.v2.Manager'] as protoLoader.ServiceDefinition;
  const shapes = Object.fromEntries(
    Object.entries(service).map(([name, method]) => [name, [method.requestStream, method.responseStream]]),
  );
  assert.deepEqual(shapes, {
    UpdateScheduler: [false, false],
    GetScheduler: [false, false],
    ListSchedulers: [false, false],
    ListApplications: [false, false],
    UpdateSeedPeer: [false, false],
    DeleteSeedPeer: [false, false],
    KeepAlive: [true, false],
    ReportEvents: [true, false],
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as managerv2.ProtoGrpcType;
  assert.equal(typeof loaded.manager.v2.Manager, 'function');
});

test('ListSchedulersRequest round-trips; an unset cluster id stays distinguishable from 0', () => {
  const method = (load()['manager.v2.Manager'] as protoLoader.ServiceDefinition).ListSchedulers!;
  const cases: Array<[managerv2.ListSchedulersRequest, Partial<managerv2.ListSchedulersRequest__Output>]> = [
    [
      { sourceType: 'PEER_SOURCE', hostname: 'node-a1', ip: '2001:db8::7', idc: 'hz-1', location: 'cn|zj|hz', schedulerClusterId: 3, version: '0.1.0' },
      { sourceType: 'PEER_SOURCE', hostname: 'node-a1', ip: '2001:db8::7', idc: 'hz-1', location: 'cn|zj|hz', schedulerClusterId: 3, version: '0.1.0', _schedulerClusterId: 'schedulerClusterId' },
    ],
    [
      { hostname: 'node-b', ip: '10.0.0.2', schedulerClusterId: 0 },
      { sourceType: 'SCHEDULER_SOURCE', hostname: 'node-b', idc: '', schedulerClusterId: 0, _schedulerClusterId: 'schedulerClusterId' },
    ],
    [
      { hostname: 'node-c', ip: '10.0.0.3' },
      { hostname: 'node-c', schedulerClusterId: undefined, _schedulerClusterId: undefined },
    ],
  ];
  for (const [request, want] of cases) {
    const bytes = method.requestSerialize(request);
    const decoded = method.requestDeserialize(bytes) as managerv2.ListSchedulersRequest__Output;
    for (const [key, value] of Object.entries(want)) {
      assert.deepEqual(decoded[key as keyof typeof decoded], value, `${request.hostname}: ${key}`);
    }
  }
});

test('a Scheduler with its cluster config as JSON text round-trips', () => {
  const method = (load()['manager.v2.Manager'] as protoLoader.ServiceDefinition).GetScheduler!;
  const scheduler: managerv2.Scheduler = {
    id: 9,
    hostname: 'scheduler-1',
    ip: '10.0.0.9',
    port: 8002,
    state: 'active',
    schedulerClusterId: 1,
    features: ['schedule', 'preheat'],
    schedulerCluster: { id: 1, name: 'default', config: '{"candidate_parent_limit":3}', scopes: '{"idc":"hz-1"}', isDefault: true },
  };
  const decoded = method.responseDeserialize(method.responseSerialize(scheduler)) as managerv2.Scheduler__Output;
  assert.equal(decoded.port, 8002);
  assert.deepEqual(decoded.features, ['schedule', 'preheat']);
  assert.deepEqual(JSON.parse(decoded.schedulerCluster!.config), { candidate_parent_limit: 3 });
  assert.equal(decoded.schedulerCluster!.isDefault, true);
  assert.equal(decoded.schedulerCluster!.clientConfig, '');
});
