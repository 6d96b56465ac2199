/** What the proxy's handlers share, built once by the proxy server from the daemon's parts and config. */
import { taskRequest, type TaskRequest, type TaskRequestInit } from '../tasks/request.ts';
import type { Logger } from '../log.ts';
import type { DaemonMetrics } from '../metrics.ts';
import type { DragonflyControls } from './request-headers.ts';
import type { ProxyRule } from './rules.ts';
import type { TaskStreamDeps } from './task-stream.ts';
import type { BlobAccess, RegistryProbe } from './upstream-checks.ts';
import type { UpstreamClient } from './upstream-client.ts';

export interface ProxyContext {
  readonly upstreams: UpstreamClient;
  readonly tasks: TaskStreamDeps;
  readonly access: BlobAccess;
  readonly probe: RegistryProbe;
  readonly rules: readonly ProxyRule[];
  /** `proxy.registryMirror.addr`. */
  readonly registryMirrorAddr: string;
  /** `proxy.disableBackToSource`: P2P only, never a direct fetch. */
  readonly disableBackToSource: boolean;
  readonly metrics: DaemonMetrics;
  readonly log: Logger;
}

/** The P2P download of `url` for a proxied request: streamed to the client in order. */
export function proxyRequest(url: string, headers: Readonly<Record<string, string>>, controls: DragonflyControls, extra: Partial<TaskRequestInit> = {}): TaskRequest {
  return taskRequest({
    url,
    headers,
    tag: controls.tag,
    application: controls.application,
    filteredQueryParams: controls.filteredQueryParams,
    pieceLength: controls.pieceLength,
    contentForCalculatingTaskId: controls.contentForCalculatingTaskId,
    priority: controls.priority as TaskRequest['priority'],
    inOrderReader: true,
    ...extra,
  });
}
