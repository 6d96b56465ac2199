/**
 * End-to-end tooling with real registry software: docker-registry, umoci, skopeo, containerd
 * (ctr) and podman, each private to a test's temp dir. See README.md beside this file.
 */
export { ToolError, type ToolErrorCode } from './errors.ts';
export { isRoot, onPath, requireRoot, requireTools, TOOL, type ToolNeed } from './tools.ts';
export { deferCleanup, scratchDir } from './cleanup.ts';
export { runCommand, type CommandResult } from './exec.ts';
export { writeAuthFile } from './sandbox.ts';
export { blobBytesServed, blobGetCounts, classifyPath, parseAccessLine, type RegistryRequest, type RequestKind } from './access-log.ts';
export { startRegistry, writeHtpasswd, type RegistryCredentials, type RegistryOptions, type RunningRegistry } from './registry.ts';
export { buildImage, pushImage, readLayout, type BlobRef, type BuildOptions, type BuiltImage } from './image.ts';
export { startContainerd, writeHostsToml, type CtrPullOptions, type HostsTomlOptions, type RunningContainerd } from './containerd.ts';
export {
  podmanPull,
  removePodmanStorage,
  skopeoPull,
  writeRegistriesConf,
  type PodmanPullOptions,
  type PodmanPullResult,
  type RegistriesConfOptions,
  type SkopeoPullOptions,
} from './containers.ts';
