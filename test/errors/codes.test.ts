/**
 * Every error class the project exports has its own stable code, and that code has an entry in
 * api's one status table. A new class without a row below fails the first test, so the table
 * cannot fall behind the code.
 */
import assert from 'node:assert/strict';
import { test } from 'vitest';
import * as api from '../../api/index.ts';
import { DfError, ERROR_STATUS, GrpcStatus, statusOf } from '../../api/index.ts';
import * as daemonErrors from '../../daemon/errors.ts';
import * as initRuntimeErrors from '../../daemon/init-runtime/errors.ts';
import * as proxyErrors from '../../daemon/proxy/errors.ts';
import { TlsCaError } from '../../daemon/proxy/tls-certificates.ts';
import * as engineErrors from '../../engine/errors.ts';
import * as schedulerErrors from '../../scheduler/errors.ts';

const MODULES = { api, daemonErrors, initRuntimeErrors, proxyErrors, tls: { TlsCaError }, engineErrors, schedulerErrors };

/** Bases that are never thrown themselves: each subclass brings the code. */
const BASES = new Set<unknown>([DfError, proxyErrors.ProxyRequestError]);

const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

/** One instance of every concrete class, built the way its throw sites build it. */
const SAMPLES: Record<string, () => DfError> = {
  InvalidArgumentError: () => new api.InvalidArgumentError('bad'),
  ShuttingDownError: () => new api.ShuttingDownError('stopping'),
  ConfigError: () => new api.ConfigError('a.b', 'bad'),
  InvalidDigestError: () => new api.InvalidDigestError('bad'),
  InvalidUnitError: () => new api.InvalidUnitError('bad'),
  UsageError: () => new daemonErrors.UsageError('--x: bad'),
  NotFoundError: () => new daemonErrors.NotFoundError('no task'),
  ParentPieceError: () => new daemonErrors.ParentPieceError('peer-1', 'refused', { status: 429 }),
  DaemonStartError: () => new daemonErrors.DaemonStartError('locked'),
  AddressInUseError: () => new daemonErrors.AddressInUseError('taken'),
  ClientGoneError: () => new daemonErrors.ClientGoneError('gone'),
  SchedulerLostError: () => new daemonErrors.SchedulerLostError('lost', { grpcCode: GrpcStatus.UNAVAILABLE }),
  InvalidConfigFileError: () => new initRuntimeErrors.InvalidConfigFileError('not TOML', { file: '/etc/x.toml', line: 3 }),
  ConfigWriteError: () => new initRuntimeErrors.ConfigWriteError('read-only', { file: '/etc/x.toml' }),
  BadProxyRequestError: () => new proxyErrors.BadProxyRequestError('NAME_INVALID', 'bad name'),
  ProxyClientDeniedError: () => new proxyErrors.ProxyClientDeniedError('not allowed'),
  ProxyRouteNotFoundError: () => new proxyErrors.ProxyRouteNotFoundError('NAME_UNKNOWN', 'no route'),
  ProxyMethodNotAllowedError: () => new proxyErrors.ProxyMethodNotAllowedError('PUT'),
  ProxyHeadersTooLargeError: () => new proxyErrors.ProxyHeadersTooLargeError('too large'),
  InterceptError: () => new proxyErrors.InterceptError('no certificate'),
  UpstreamError: () => new proxyErrors.UpstreamError('unreachable', { cause }),
  TlsCaError: () => new TlsCaError('expired', 'ca.pem expired'),
  SourceStatusError: () => new engineErrors.SourceStatusError('http://o/x', 404),
  SourceUnreachableError: () => new engineErrors.SourceUnreachableError('http://o/x', cause),
  SourceTimeoutError: () => new engineErrors.SourceTimeoutError('http://o/x', 1000),
  SourceProtocolError: () => new engineErrors.SourceProtocolError('short body'),
  SourceChangedError: () => new engineErrors.SourceChangedError('http://o/x', 'length'),
  TooManyRedirectsError: () => new engineErrors.TooManyRedirectsError('http://o/x', 10),
  InvalidContentLengthError: () => new engineErrors.InvalidContentLengthError('http://o/x'),
  UnsupportedSchemeError: () => new engineErrors.UnsupportedSchemeError('ftp://o/x', ['http']),
  TaskDigestMismatchError: () => new engineErrors.TaskDigestMismatchError('sha256:a', 'sha256:b'),
  PieceDigestMismatchError: () => new engineErrors.PieceDigestMismatchError(0, 'crc32:1', 'crc32:2'),
  StorageError: () => new engineErrors.StorageError('disk full'),
  OutputError: () => new engineErrors.OutputError('exists'),
  AbortedError: () => new engineErrors.AbortedError(),
  'scheduler NotFoundError': () => new schedulerErrors.NotFoundError('peer', 'p'),
  PeerExistsError: () => new schedulerErrors.PeerExistsError('p'),
  InvalidTransitionError: () => new schedulerErrors.InvalidTransitionError('peer', 'Pending', 'Finished'),
  ScheduleError: () => new schedulerErrors.ScheduleError('retry limit'),
  NoCandidateError: () => new schedulerErrors.NoCandidateError('none'),
  ScheduleAbortedError: () => new schedulerErrors.ScheduleAbortedError(),
};

/** The exported DfError subclasses of every errors module, keyed as in SAMPLES. */
function exportedClasses(): Map<string, Function> {
  const found = new Map<string, Function>();
  for (const [module, exports] of Object.entries(MODULES)) {
    for (const [name, value] of Object.entries(exports)) {
      if (typeof value !== 'function' || BASES.has(value) || !(value.prototype instanceof DfError)) continue;
      found.set(module === 'schedulerErrors' && name === 'NotFoundError' ? 'scheduler NotFoundError' : name, value);
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
    assert.ok(grpcCodes.has(status.grpc) && status.grpc !== GrpcStatus.OK, code);
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
