/**
 * The generated wire types (api/gen) as namespaces named like Dragonfly's Go imports, so that
 * daemon/, scheduler/ and manager/ reach them through api/index.ts: `commonv2.Host__Output`,
 * `schedulerv2.AnnouncePeerRequest__Output`, `dfdaemonv2.DfdaemonUploadClient`. Types only.
 */
export type * as commonv2 from './wire/common.ts';
export type * as schedulerv2 from './wire/scheduler.ts';
export type * as dfdaemonv2 from './wire/dfdaemon.ts';
export type * as managerv2 from './wire/manager.ts';
