/** The REST resources of people and Harbor, in registration order (jobs register beside them). */
import type { RoutePlugin } from '../app.ts';
import { applicationRoutes } from './applications.ts';
import { clusterRoutes } from './clusters.ts';
import { configRoutes } from './configs.ts';
import { peerRoutes, schedulerRoutes, seedPeerRoutes } from './machines.ts';
import { personalAccessTokenRoutes } from './personal-access-tokens.ts';
import { userRoutes } from './users.ts';

export const RESOURCE_ROUTES: readonly RoutePlugin[] = [
  userRoutes,
  personalAccessTokenRoutes,
  clusterRoutes,
  schedulerRoutes,
  seedPeerRoutes,
  peerRoutes,
  applicationRoutes,
  configRoutes,
];
