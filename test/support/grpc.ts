/** gRPC clients for tests, loaded from api's protos with api's loader options (as the components do). */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { PROTO_DIR, PROTO_FILES, PROTO_LOADER_OPTIONS, type dfdaemonv2, type schedulerv2 } from '../../api/index.ts';

export interface TestProtos {
  readonly dfdaemon: dfdaemonv2.ProtoGrpcType['dfdaemon']['v2'];
  readonly scheduler: schedulerv2.ProtoGrpcType['scheduler']['v2'];
}

let loaded: TestProtos | undefined;

export function loadProtosForTests(): TestProtos {
  if (loaded) return loaded;
  const definition = protoLoader.loadSync(
    PROTO_FILES.map((file) => join(PROTO_DIR, file)),
    { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] },
  );
  const all = grpc.loadPackageDefinition(definition) as unknown as dfdaemonv2.ProtoGrpcType & schedulerv2.ProtoGrpcType;
  loaded = { dfdaemon: all.dfdaemon.v2, scheduler: all.scheduler.v2 };
  return loaded;
}

export function uploadClient(port: number): dfdaemonv2.DfdaemonUploadClient {
  return new (loadProtosForTests().dfdaemon.DfdaemonUpload)(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

export function downloadClient(socketPath: string): dfdaemonv2.DfdaemonDownloadClient {
  return new (loadProtosForTests().dfdaemon.DfdaemonDownload)(`unix:${socketPath}`, grpc.credentials.createInsecure());
}

/** A unary call as a promise. */
export function call<Req, Res>(fn: (request: Req, callback: grpc.requestCallback<Res>) => unknown, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(request, (error, value) => (error ? reject(error) : resolve(value!)));
  });
}

/** Every message of a server stream, or its error. */
export function collect<T>(stream: grpc.ClientReadableStream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const items: T[] = [];
    stream.on('data', (item: T) => items.push(item));
    stream.on('error', reject);
    stream.on('end', () => resolve(items));
  });
}

export { grpc };
