/** manager.proto loaded once (file I/O) into the grpc-js service constructor, typed by api's generated types. */
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_FILES, PROTO_LOADER_OPTIONS, type managerv2 } from '../../api/index.ts';

export { grpc };

let loaded: managerv2.ProtoGrpcType['manager']['v2'] | undefined;

export function loadManagerProto(): managerv2.ProtoGrpcType['manager']['v2'] {
  if (!loaded) {
    const definition = loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] });
    loaded = (grpc.loadPackageDefinition(definition) as unknown as managerv2.ProtoGrpcType).manager.v2;
  }
  return loaded;
}
