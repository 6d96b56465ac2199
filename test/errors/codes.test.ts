/**
 * Every error class the project exports has its own stable code, and that code has an entry in
 * api's one status table. A new class without a row below fails the first test, so the table
 * cannot fall behind the code.
 */
import assert from 'node:assert/strict';
import { test } from 'vitest';
import * as api from '../../api/index.ts';
import { DfError, ERROR_STATUS, GrpcStatus, statusOf } from '../../api/index.ts';
import * as daemon from '../../daemon/index.ts';
import * as engine from '../../engine/index.ts';
import * as manager from '../../manager/index.ts';
import * as scheduler from '../../scheduler/index.ts';

const MODULES = { api, daemon, engine, scheduler, manager };

/** Bases that are never thrown themselves: each subclass brings the code. */
const BASES = new Set<unknown>([DfError, daemon.ProxyRequestError]);

const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

/** One instance of every concrete class, built the way its throw sites build it. */
const SAMPLES: Record<string, () => DfError> = {
  InvalidArgumentError: () => new api.InvalidArgumentError('bad'),
  ShuttingDownError: () => new api.ShuttingDownError('stopping'),
  ConfigError: () => new api.ConfigError('a.b', 'bad'),
  InvalidDigestError: () => new api.InvalidDigestError('bad'),
  InvalidUnitError: () => new api.InvalidUnitError('bad'),
  UndecodableRequestError: () => new api.UndecodableRequestError('/scheduler.v2.Scheduler/AnnouncePeer: the request is not a valid protobuf message of this method'),
  UsageError: () => new daemon.UsageError('--x: bad'),
  NotFoundError: () => new daemon.NotFoundError('no task'),
  ParentPieceError: () => new daemon.ParentPieceError('peer-1', 'refused', { status: 429 }),
  DaemonStartError: () => new daemon.DaemonStartError('locked'),
  AddressInUseError: () => new daemon.AddressInUseError('taken'),
  ClientGoneError: () => new daemon.ClientGoneError('gone'),
  SchedulerLostError: () => new daemon.SchedulerLostError('lost', { grpcCode: GrpcStatus.UNAVAILABLE }),
  BackToSourceDisabledError: () => new daemon.BackToSourceDisabledError('missing pieces'),
  InvalidConfigFileError: () => new daemon.InvalidConfigFileError('not TOML', { file: '/etc/x.toml', line: 3 }),
  ConfigWriteError: () => new daemon.ConfigWriteError('read-only', { file: '/etc/x.toml' }),
  BadProxyRequestError: () => new daemon.BadProxyRequestError('NAME_INVALID', 'bad name'),
  ProxyClientDeniedError: () => new daemon.ProxyClientDeniedError('not allowed'),
  ProxyRouteNotFoundError: () => new daemon.ProxyRouteNotFoundError('NAME_UNKNOWN', 'no route'),
  ProxyMethodNotAllowedError: () => new daemon.ProxyMethodNotAllowedError('PUT'),
  ProxyHeadersTooLargeError: () => new daemon.ProxyHeadersTooLargeError('too large'),
  InterceptError: () => new daemon.InterceptError('no certificate'),
  UpstreamError: () => new daemon.UpstreamError('unreachable', { cause }),
  TlsCaError: () => new daemon.TlsCaError('expired', 'ca.pem expired'),
  SourceStatusError: () => new engine.SourceStatusError('http://o/x', 404),
  SourceUnreachableError: () => new engine.SourceUnreachableError('http://o/x', cause),
  SourceTimeoutError: () => new engine.SourceTimeoutError('http://o/x', 1000),
  SourceProtocolError: () => new engine.SourceProtocolError('short body'),
  SourceChangedError: () => new engine.SourceChangedError('http://o/x', 'length'),
  TooManyRedirectsError: () => new engine.TooManyRedirectsError('http://o/x', 10),
  InvalidContentLengthError: () => new engine.InvalidContentLengthError('http://o/x'),
  UnsupportedSchemeError: () => new engine.UnsupportedSchemeError('ftp://o/x', ['http']),
  TaskDigestMismatchError: () => new engine.TaskDigestMismatchError('sha256:a', 'sha256:b'),
  PieceDigestMismatchError: () => new engine.PieceDigestMismatchError(0, 'crc32:1', 'crc32:2'),
  StorageError: () => new engine.StorageError('disk full'),
  OutputError: () => new engine.OutputError('exists'),
  AbortedError: () => new engine.AbortedError(),
  'scheduler NotFoundError': () => new scheduler.NotFoundError('peer', 'p'),
  PeerExistsError: () => new scheduler.PeerExistsError('p'),
  InvalidTransitionError: () => new scheduler.InvalidTransitionError('peer', 'Pending', 'Finished'),
  ScheduleError: () => new scheduler.ScheduleError('retry limit'),
  NoCandidateError: () => new scheduler.NoCandidateError('none'),
  ScheduleAbortedError: () => new scheduler.ScheduleAbortedError(),
  StoreError: () => new manager.StoreError('cannot open', { cause }),
  UnauthenticatedError: () => new manager.UnauthenticatedError('sign in'),
  ForbiddenError: () => new manager.ForbiddenError('root only'),
  RecordNotFoundError: () => new manager.RecordNotFoundError('cluster 7'),
  RecordExistsError: () => new manager.RecordExistsError('cluster "a"'),
  RateLimitedError: () => new manager.RateLimitedError('11 jobs in a second'),
  InvalidFieldError: () => new manager.InvalidFieldError('body.scopes.cidrs[0]', 'not a CIDR'),
  ConflictError: () => new manager.ConflictError('the last root'),
  PreheatUnauthorizedError: () => new manager.PreheatUnauthorizedError('401 from the registry', 401),
  RegistryUnreachableError: () => new manager.RegistryUnreachableError('refused', { cause }),
  RegistryTimeoutError: () => new manager.RegistryTimeoutError('slow'),
  RegistryStatusError: () => new manager.RegistryStatusError('503 from the registry', 503),
  ImageNotFoundError: () => new manager.ImageNotFoundError('no tag'),
  ManifestInvalidError: () => new manager.ManifestInvalidError('not JSON'),
  ManifestTooLargeError: () => new manager.ManifestTooLargeError('too large'),
  TokenInvalidError: () => new manager.TokenInvalidError('no token'),
  PlatformNotFoundError: () => new manager.PlatformNotFoundError('no linux/s390x', ['linux/amd64']),
  PreheatStalledError: () => new manager.PreheatStalledError('no bytes for 60 s'),
  PreheatNoSchedulerError: () => new manager.PreheatNoSchedulerError('no active scheduler'),
  PreheatFailedError: () => new manager.PreheatFailedError('refused'),
  TaskJobNoSchedulerError: () => new manager.TaskJobNoSchedulerError('no active scheduler'),
  TaskJobSchedulerFailedError: () => new manager.TaskJobSchedulerFailedError('unreachable', { cause }),
};

/** The exported DfError subclasses of every errors module, keyed as in SAMPLES. */
function exportedClasses(): Map<string, Function> {
  const found = new Map<string, Function>();
  for (const [module, exports] of Object.entries(MODULES)) {
    for (const [name, value] of Object.entries(exports)) {
      if (typeof value !== 'function' || BASES.has(value) || !(value.prototype instanceof DfError)) continue;
      found.set(module === 'scheduler' && name === 'NotFoundError' ? 'scheduler NotFoundError' : name, value);
    }
  }
  return found;
}

test('every exported error class has a sample here, and each sample is an instance of its class with a fixed name', () => {
  const classes = exportedClasses();
  assert.deepEqual([...classes.keys()].sort(), Object.keys(SAMPLES).sort());
  for (const [key, make] of Object.entries(SAMPLES)) {
    const error = make();
    const type = classes.get(key)!;
    assert.ok(error instanceof type, key);
    assert.equal(error.name, type.name, key);
  }
});

test('no two error classes share a code, and every code is in the status table', () => {
  const owners = new Map<string, string>();
  for (const [key, make] of Object.entries(SAMPLES)) {
    const { code } = make();
    assert.ok(Object.hasOwn(ERROR_STATUS, code), `${key}: ${code} is not in ERROR_STATUS`);
    assert.equal(owners.get(code), undefined, `${key} and ${owners.get(code)} share ${code}`);
    owners.set(code, key);
  }
});

test('every table entry is a known gRPC status and an HTTP error status', () => {
  const grpcCodes = new Set<number>(Object.values(GrpcStatus));
  for (const [code, status] of Object.entries(ERROR_STATUS)) {
    assert.ok(grpcCodes.has(status.grpc) && status.grpc !== (GrpcStatus.OK as number), code);
    assert.ok(Number.isInteger(status.http) && status.http >= 400 && status.http <= 599, code);
  }
});

test('failures that decide behaviour keep their gRPC status: lost parent and lost scheduler stay UNAVAILABLE under their own codes', () => {
  const cases: Array<[DfError, string, number, number]> = [
    [SAMPLES.ParentPieceError!(), 'DF_ERR_PARENT_FAILED', GrpcStatus.UNAVAILABLE, 502],
    [SAMPLES.SchedulerLostError!(), 'DF_ERR_SCHEDULER_UNAVAILABLE', GrpcStatus.UNAVAILABLE, 503],
    [SAMPLES.ShuttingDownError!(), 'DF_ERR_SHUTTING_DOWN', GrpcStatus.UNAVAILABLE, 503],
    [SAMPLES.UsageError!(), 'DF_ERR_USAGE', GrpcStatus.INVALID_ARGUMENT, 400],
    [SAMPLES.AddressInUseError!(), 'DF_ERR_ADDRESS_IN_USE', GrpcStatus.FAILED_PRECONDITION, 409],
    [SAMPLES['scheduler NotFoundError']!(), 'DF_ERR_RESOURCE_NOT_FOUND', GrpcStatus.NOT_FOUND, 404],
    [SAMPLES.NoCandidateError!(), 'DF_ERR_NO_CANDIDATE', GrpcStatus.NOT_FOUND, 404],
    [SAMPLES.ScheduleError!(), 'DF_ERR_SCHEDULE_FAILED', GrpcStatus.FAILED_PRECONDITION, 412],
    [SAMPLES.ProxyMethodNotAllowedError!(), 'DF_ERR_PROXY_METHOD_NOT_ALLOWED', GrpcStatus.UNIMPLEMENTED, 405],
  ];
  for (const [error, code, grpc, http] of cases) {
    assert.equal(error.code, code, error.name);
    assert.deepEqual(statusOf(error), { grpc, http }, error.name);
  }
});
