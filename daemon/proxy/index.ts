/**
 * The proxy port's composition: upstream client, checks, rules and the P2P task stream, built
 * from `proxy.*` config and the daemon's task manager. Only daemon/main.ts calls this.
 */
import { createPieceSender, DigestVerifier, type Engine } from '../../engine/index.ts';
import type { DfdaemonConfig } from '../config.ts';
import type { HttpListener } from '../http/servers.ts';
import type { Logger } from '../log.ts';
import type { DaemonMetrics } from '../metrics.ts';
import type { TaskManager } from '../tasks/task-manager.ts';
import type { CertificateSource } from './connect.ts';
import { DaemonStartError } from '../errors.ts';
import { compileRules } from './rules.ts';
import { LeafCertificates } from './tls-certificates.ts';
import { ProxyServer } from './server.ts';
import { BlobAccess, RegistryProbe } from './upstream-checks.ts';
import { UpstreamClient } from './upstream-client.ts';

export interface ProxyDeps {
  readonly config: DfdaemonConfig['proxy'];
  readonly manager: TaskManager;
  readonly engine: Engine;
  readonly metrics: DaemonMetrics;
  readonly log: Logger;
}

/** With `proxy.server.caCert`/`caKey`, CONNECT tunnels are intercepted with leaves that CA signs. */
async function certificatesOf(config: ProxyDeps['config']): Promise<CertificateSource | undefined> {
  const { caCert, caKey } = config.server;
  if (caCert === undefined || caKey === undefined) return undefined;
  try {
    return await LeafCertificates.fromFiles(caCert, caKey);
  } catch (error) {
    throw new DaemonStartError(`proxy.server.caCert / proxy.server.caKey: ${(error as Error).message}`, { cause: error });
  }
}

export async function startProxy(deps: ProxyDeps): Promise<HttpListener> {
  const { config, manager, engine, metrics, log } = deps;
  const certificates = await certificatesOf(config);
  const upstreams = new UpstreamClient();
  const server = new ProxyServer({
    allowedClients: config.server.allowedClients,
    certificates,
    metrics,
    log,
    context: {
      upstreams,
      access: new BlobAccess(upstreams, config.authCacheTTL),
      probe: new RegistryProbe(upstreams),
      rules: compileRules(config.rules),
      registryMirrorAddr: config.registryMirror.addr,
      disableBackToSource: config.disableBackToSource,
      metrics,
      log,
      tasks: {
        manager,
        log,
        dataPathOf: (taskId) => engine.store.filesOf(taskId).dataPath,
        verifierFor: (taskId, digest) => new DigestVerifier(engine.pool, engine.store.filesOf(taskId).dataPath, digest),
        completed: async (taskId) => {
          const view = await engine.tasks.get(taskId);
          if (!view?.complete || view.downloading) return undefined;
          engine.tasks.touch(taskId);
          return { contentLength: view.contentLength, pieceLength: view.pieceLength };
        },
        sender: createPieceSender(),
      },
    },
  });
  const port = await server.listen(config.server.ip, config.server.port);
  return {
    port,
    close: async () => {
      await server.close();
      await upstreams.close();
    },
  };
}
