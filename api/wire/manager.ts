/** manager.v2 wire types (generated in api/gen), for other folders to import through api/index.ts. */
export type { Application, Application__Output } from '../gen/manager/v2/Application.ts';
export type { ApplicationPriority, ApplicationPriority__Output } from '../gen/manager/v2/ApplicationPriority.ts';
export type { DeleteSeedPeerRequest, DeleteSeedPeerRequest__Output } from '../gen/manager/v2/DeleteSeedPeerRequest.ts';
export type { GetSchedulerRequest, GetSchedulerRequest__Output } from '../gen/manager/v2/GetSchedulerRequest.ts';
export type { KeepAliveRequest, KeepAliveRequest__Output } from '../gen/manager/v2/KeepAliveRequest.ts';
export type { ListApplicationsRequest, ListApplicationsRequest__Output } from '../gen/manager/v2/ListApplicationsRequest.ts';
export type { ListApplicationsResponse, ListApplicationsResponse__Output } from '../gen/manager/v2/ListApplicationsResponse.ts';
export type { ListSchedulersRequest, ListSchedulersRequest__Output } from '../gen/manager/v2/ListSchedulersRequest.ts';
export type { ListSchedulersResponse, ListSchedulersResponse__Output } from '../gen/manager/v2/ListSchedulersResponse.ts';
export type { Scheduler, Scheduler__Output } from '../gen/manager/v2/Scheduler.ts';
export type { SchedulerCluster, SchedulerCluster__Output } from '../gen/manager/v2/SchedulerCluster.ts';
export type { SeedPeer, SeedPeer__Output } from '../gen/manager/v2/SeedPeer.ts';
export type { URLPriority, URLPriority__Output } from '../gen/manager/v2/URLPriority.ts';
export type { UpdateSchedulerRequest, UpdateSchedulerRequest__Output } from '../gen/manager/v2/UpdateSchedulerRequest.ts';
export type { UpdateSeedPeerRequest, UpdateSeedPeerRequest__Output } from '../gen/manager/v2/UpdateSeedPeerRequest.ts';
export type { ManagerClient, ManagerHandlers, ManagerDefinition } from '../gen/manager/v2/Manager.ts';
export type { SourceType, SourceType__Output } from '../gen/manager/v2/SourceType.ts';
export type { ProtoGrpcType } from '../gen/manager.ts';
