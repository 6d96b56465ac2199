/**
 * Where the protos are and how to load them. Loading is I/O, so it happens in the daemon's and
 * scheduler's own gRPC modules; both must use these options, which the generated types assume.
 */
import { fileURLToPath } from 'node:url';

export const PROTO_DIR = fileURLToPath(new URL('./proto/', import.meta.url));
export const PROTO_FILES = Object.freeze(['common.proto', 'scheduler.proto', 'dfdaemon.proto', 'manager.proto']);

/** @grpc/proto-loader options: camelCase fields, numbers for 64-bit values, enum names as strings. */
export const PROTO_LOADER_OPTIONS = Object.freeze({
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
});
