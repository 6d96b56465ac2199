import assert from 'node:assert/strict';
import { test } from 'vitest';
import { DfError, GrpcStatus, grpcStatusOf, InvalidArgumentError, toGrpcError } from '../index.ts';

test('thrown values map to gRPC statuses through the code tables', () => {
  const abort = new Error('stop');
  abort.name = 'AbortError';
  const cases: readonly [unknown, number][] = [
    [new InvalidArgumentError('bad'), GrpcStatus.INVALID_ARGUMENT],
    [new DfError('DF_ERR_NOT_FOUND', 'gone'), GrpcStatus.NOT_FOUND],
    [new DfError('DF_ERR_ALREADY_EXISTS', 'twice'), GrpcStatus.ALREADY_EXISTS],
    [new DfError('DF_ERR_FAILED_PRECONDITION', 'no'), GrpcStatus.FAILED_PRECONDITION],
    [new DfError('DF_ERR_UNAVAILABLE', 'later'), GrpcStatus.UNAVAILABLE],
    [Object.assign(new Error('from grpc-js'), { code: 14, details: 'connect failed' }), GrpcStatus.UNAVAILABLE],
    [abort, GrpcStatus.CANCELLED],
    [new Error('bug'), GrpcStatus.INTERNAL],
    ['a string', GrpcStatus.INTERNAL],
  ];
  for (const [error, code] of cases) assert.equal(grpcStatusOf(error).code, code, String(error));
  const mapped = toGrpcError(new InvalidArgumentError('field x is bad'));
  assert.equal(mapped.code, GrpcStatus.INVALID_ARGUMENT);
  assert.equal(mapped.details, 'field x is bad');
  assert.ok(mapped.cause instanceof InvalidArgumentError);
});
