/**
 * dfget's composition root: parse flags into a TaskRequest, then download it through the local
 * dfdaemon or, when none answers, through the same task service the daemon runs, over an
 * origin-only strategy; report one clear line.
 */
import { readFileSync } from 'node:fs';
import { DfError } from '../../api/index.ts';
import type { DownloadEvent } from '../../engine/index.ts';
import { createLogger, type Logger } from '../log.ts';
import { taskRequest, type Priority, type TaskRequest } from '../tasks/request.ts';
import { parseDfgetArgs, USAGE, type DfgetArgs } from './args.ts';
import { daemonAnswers, DaemonCallError, downloadViaDaemon } from './daemon-client.ts';
import { ProgressBar } from './progress.ts';

export interface DfgetIo {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C / SIGTERM. */
  readonly signal?: AbortSignal | undefined;
}

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_INTERRUPTED = 130;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function dfgetMain(argv: readonly string[], io: DfgetIo): Promise<number> {
  let command;
  try {
    command = parseDfgetArgs(argv, io.env);
  } catch (error) {
    io.stderr.write(`dfget: error: ${(error as Error).message}\n(see dfget --help)\n`);
    return EXIT_FAILURE;
  }
  if (command.type === 'help') {
    io.stdout.write(USAGE);
    return EXIT_OK;
  }
  if (command.type === 'version') {
    io.stdout.write(`dfget ${version()}\n`);
    return EXIT_OK;
  }
  const log = createLogger(command.args.logLevel, (line) => io.stderr.write(line));
  let request: TaskRequest;
  try {
    request = requestOf(command.args);
  } catch (error) {
    io.stderr.write(`dfget: error: ${(error as Error).message}\n(see dfget --help)\n`);
    return EXIT_FAILURE;
  }
  if (await daemonAnswers(command.args.endpoint)) return downloadThroughDaemon(request, command.args, io, log);
  // One line, in the log format so stderr stays machine-readable, whatever the log level.
  createLogger('info', (line) => io.stderr.write(line)).info(`no dfdaemon answers on ${command.args.endpoint}; downloading directly from the origin`);
  return download(request, command.args, io, log);
}

/** The flags as the one request shape both paths take. */
export function requestOf(args: DfgetArgs): TaskRequest {
  return taskRequest({
    url: args.url,
    headers: args.headers,
    tag: args.tag,
    application: args.application,
    filteredQueryParams: args.filteredQueryParams,
    pieceLength: args.pieceLength,
    digest: args.digest,
    outputPath: args.output,
    overwrite: args.overwrite,
    timeoutMs: args.timeoutMs,
    pieceTimeoutMs: args.pieceTimeoutMs,
    concurrentPieceCount: args.concurrentPieceCount,
    priority: `LEVEL${args.priority}` as Priority,
  });
}

/** The daemon downloads and writes the output; dfget shows its progress and its verdict. */
async function downloadThroughDaemon(request: TaskRequest, args: DfgetArgs, io: DfgetIo, log: Logger): Promise<number> {
  const timeout = AbortSignal.timeout(args.timeoutMs);
  const signal = io.signal ? AbortSignal.any([io.signal, timeout]) : timeout;
  const bar = args.progress && io.stderr.isTTY ? new ProgressBar(io.stderr) : undefined;
  log.info('downloading through dfdaemon', { endpoint: args.endpoint });
  if (args.fsync) log.warn('--fsync applies to direct downloads; the daemon re-checks its stored pieces after a crash instead');
  try {
    await downloadViaDaemon(
      request,
      args.endpoint,
      {
        onStarted: (contentLength, presentBytes) => {
          bar?.start(contentLength, presentBytes);
          log.info('download started', { contentLength, presentBytes });
        },
        onPiece: (piece) => {
          bar?.add(piece.length);
          log.debug('piece finished', { number: piece.number, length: piece.length, trafficType: piece.trafficType, parentId: piece.parentId });
        },
      },
      signal,
    );
    bar?.stop(true);
    log.info('download finished', { output: args.output });
    return EXIT_OK;
  } catch (error) {
    bar?.stop(false);
    return failed(error, args, io, timeout, log);
  }
}

/** The exit code and the one line for a failed download, the same whichever path ran it. */
function failed(error: unknown, args: DfgetArgs, io: DfgetIo, timeout: AbortSignal, log: Logger): number {
  if (timeout.aborted) {
    io.stderr.write(`dfget: error: timed out after ${args.timeoutMs / 1000}s; run again to resume from the stored pieces\n`);
    return EXIT_FAILURE;
  }
  if (io.signal?.aborted) {
    io.stderr.write('dfget: interrupted; run the same command again to resume\n');
    return EXIT_INTERRUPTED;
  }
  log.debug('download failed', { error, stack: (error as Error)?.stack });
  io.stderr.write(`dfget: error: ${describe(error)}\n`);
  return EXIT_FAILURE;
}

/** No daemon: the daemon's own task service, in this process, with every piece from the origin. */
async function download(request: TaskRequest, args: DfgetArgs, io: DfgetIo, log: Logger): Promise<number> {
  const timeout = AbortSignal.timeout(args.timeoutMs);
  const signal = io.signal ? AbortSignal.any([io.signal, timeout]) : timeout;
  // Imported here: --help and downloads through a daemon never load the engine (undici, piscina).
  const [{ createEngine, originOnly }, { createDaemonMetrics }, { TaskManager }, { TaskService }] = await Promise.all([
    import('../../engine/index.ts'),
    import('../metrics.ts'),
    import('../tasks/task-manager.ts'),
    import('../tasks/task-service.ts'),
  ]);
  const engine = createEngine({ storageDir: args.storageDir, durable: args.fsync });
  const manager = new TaskManager({ engine, strategyFor: () => originOnly, metrics: createDaemonMetrics(), log, newPeerId: () => 'dfget', signal });
  const service = new TaskService({ engine, manager, log, keepTasks: false });
  const bar = args.progress && io.stderr.isTTY ? new ProgressBar(io.stderr) : undefined;
  const onProgress = (event: DownloadEvent) => {
    switch (event.type) {
      case 'bytes':
        bar?.add(event.count);
        break;
      case 'started':
        bar?.start(event.contentLength, event.resumedBytes);
        log.info('download started', { ...event, resumedPieces: event.resumedPieces.length });
        if (event.resumedBytes > 0) log.info('resuming', { resumedBytes: event.resumedBytes });
        if (!event.rangeSupported) log.warn('origin ignores Range: downloading the whole file in one stream');
        break;
      case 'piece':
        log.debug('piece finished', { ...event.piece });
        break;
      case 'retry':
        log.warn('piece failed, retrying', { piece: event.pieceNumber, attempt: event.attempt, delayMs: event.delayMs, error: event.error });
        break;
      case 'finished':
        log.debug(event.type, { ...event });
        break;
    }
  };
  try {
    const result = await service.download(request, { onStarted: () => {}, onPiece: () => {}, onProgress }, { signal });
    bar?.stop(true);
    log.info('download finished', { ...result });
    return EXIT_OK;
  } catch (error) {
    bar?.stop(false);
    return failed(error, args, io, timeout, log);
  } finally {
    await engine.close();
  }
}

function describe(error: unknown): string {
  if (error instanceof DfError || error instanceof DaemonCallError) return error.message;
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
