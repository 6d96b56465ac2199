/** dfdaemon and dfget. */
export { dfgetMain, type DfgetIo } from './dfget/main.ts';
export { parseDfgetArgs, defaultStorageDir, DFGET_DEFAULTS, DEFAULT_ENDPOINT, USAGE as DFGET_USAGE, type DfgetArgs } from './dfget/args.ts';
export { createLogger, type Logger, type LogLevel } from './log.ts';
export { UsageError, NotFoundError, ParentPieceError, SchedulerLostError, DaemonStartError } from './errors.ts';
export { dfdaemonMain, CORRUPT_PIECES_ENV, DEFAULT_CONFIG_PATH } from './cli.ts';
export { startDaemon, type DaemonOptions, type RunningDaemon } from './main.ts';
export { DFDAEMON_CONFIG_SCHEMA, parseDfdaemonConfig, resolveDfdaemonConfig, type DfdaemonConfig } from './config.ts';
export { createDaemonMetrics, type DaemonMetrics, type TrafficType } from './metrics.ts';
export { PieceServer, parsePiecePath, PIECE_DIGEST_HEADER, type PieceServerOptions } from './upload/piece-server.ts';
export { PieceClient, type AnnouncedPiece, type ParentAddress } from './p2p/piece-client.ts';
export { idleBandwidth, parentShares, parentWeight, pickWeighted, DEFAULT_PARENT_TX_BPS } from './p2p/parent-selector.ts';
export { SlowLinkQueue } from './p2p/origin.ts';
export { tasksToEvict, type GcPolicy } from './gc.ts';
export { checkTaskId, checkPieceNumbers, downloadSpecOf, REQUEST_LIMITS, type DownloadSpec } from './rpc/validate.ts';
export { LeafCertificates, TlsCaError, LEAF_CERTIFICATE_DEFAULTS, normalizeHost, type IssuedCertificate, type LeafCertificatesOptions, type TlsCaProblem } from './proxy/tls-certificates.ts';
