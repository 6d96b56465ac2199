/**
 * dfdaemon's command line: `--config <file>` (default /etc/dragonfly/dfdaemon.yaml) runs the
 * daemon; `init-runtime ...` points container runtimes at its registry mirror. A bad config
 * or a port that is taken ends the process with exit 1 and one line naming the key; SIGINT and
 * SIGTERM shut it down in order and exit 0.
 */
import { parseArgs } from 'node:util';
import { DfError } from '../api/index.ts';
import { initRuntimeMain } from './init-runtime/command.ts';
import { createLogger, isLogLevel } from './log.ts';

export const DEFAULT_CONFIG_PATH = '/etc/dragonfly/dfdaemon.yaml';

const USAGE = `Usage: dfdaemon [--config <FILE>]
       dfdaemon init-runtime [options]   point containerd / CRI-O / podman at the mirror (--help for more)

  -c, --config <FILE>  dfdaemon.yaml (default ${DEFAULT_CONFIG_PATH})
  -h, --help           this text
`;

export async function dfdaemonMain(argv: readonly string[], io: { stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv; stdout?: NodeJS.WritableStream }): Promise<number> {
  if (argv[0] === 'init-runtime') {
    return initRuntimeMain(argv.slice(1), { stdout: io.stdout ?? process.stdout, stderr: io.stderr, cwd: process.cwd() });
  }
  let configPath = DEFAULT_CONFIG_PATH;
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stderr.write(USAGE);
      return 0;
    }
    configPath = values.config ?? DEFAULT_CONFIG_PATH;
  } catch (error) {
    io.stderr.write(`dfdaemon: error: ${(error as Error).message}\n${USAGE}`);
    return 1;
  }
  // Loaded here, not at the top: init-runtime should not pay for loading the whole daemon.
  const { loadDfdaemonConfig } = await import('./config.ts');
  const { startDaemon } = await import('./main.ts');
  let config;
  try {
    config = await loadDfdaemonConfig(configPath);
  } catch (error) {
    io.stderr.write(`dfdaemon: error: ${(error as Error).message}\n`);
    return 1;
  }
  const level = isLogLevel(config.log.level) ? config.log.level : 'info';
  const log = createLogger(level, (line) => io.stderr.write(line));
  const controller = new AbortController();
  const onSignal = (name: string) => () => controller.abort(new Error(name));
  process.once('SIGINT', onSignal('SIGINT'));
  process.once('SIGTERM', onSignal('SIGTERM'));
  try {
    const daemon = await startDaemon({ config, log, signal: controller.signal });
    await daemon.stopped;
    return 0;
  } catch (error) {
    io.stderr.write(`dfdaemon: error: ${error instanceof DfError ? error.message : ((error as Error)?.stack ?? String(error))}\n`);
    return 1;
  }
}
