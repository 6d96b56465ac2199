/** Loads the protos once (file I/O) into grpc-js service constructors, typed by api's generated types. */
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_FILES, PROTO_LOADER_OPTIONS, type dfdaemonv2, type schedulerv2 } from '../../api/index.ts';

export interface LoadedProtos {
  readonly scheduler: schedulerv2.ProtoGrpcType;
  readonly dfdaemon: dfdaemonv2.ProtoGrpcType;
}

let loaded: LoadedProtos | undefined;

export function loadProtos(): LoadedProtos {
  if (!loaded) {
    const definition = loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] });
    const root = grpc.loadPackageDefinition(definition);
    loaded = { scheduler: root as unknown as schedulerv2.ProtoGrpcType, dfdaemon: root as unknown as dfdaemonv2.ProtoGrpcType };
  }
  return loaded;
}
