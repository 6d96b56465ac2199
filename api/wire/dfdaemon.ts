/** dfdaemon.v2 wire types (generated in api/gen), for other folders to import through api/index.ts. */
export type { DeleteTaskRequest, DeleteTaskRequest__Output } from '../gen/dfdaemon/v2/DeleteTaskRequest.ts';
export type { DfdaemonDownloadClient, DfdaemonDownloadHandlers, DfdaemonDownloadDefinition } from '../gen/dfdaemon/v2/DfdaemonDownload.ts';
export type { DfdaemonUploadClient, DfdaemonUploadHandlers, DfdaemonUploadDefinition } from '../gen/dfdaemon/v2/DfdaemonUpload.ts';
export type { DownloadPieceFinishedResponse, DownloadPieceFinishedResponse__Output } from '../gen/dfdaemon/v2/DownloadPieceFinishedResponse.ts';
export type { DownloadTaskRequest, DownloadTaskRequest__Output } from '../gen/dfdaemon/v2/DownloadTaskRequest.ts';
export type { DownloadTaskResponse, DownloadTaskResponse__Output } from '../gen/dfdaemon/v2/DownloadTaskResponse.ts';
export type { DownloadTaskStartedResponse, DownloadTaskStartedResponse__Output } from '../gen/dfdaemon/v2/DownloadTaskStartedResponse.ts';
export type { StatTaskRequest, StatTaskRequest__Output } from '../gen/dfdaemon/v2/StatTaskRequest.ts';
export type { SyncHostRequest, SyncHostRequest__Output } from '../gen/dfdaemon/v2/SyncHostRequest.ts';
export type { SyncPiecesRequest, SyncPiecesRequest__Output } from '../gen/dfdaemon/v2/SyncPiecesRequest.ts';
export type { SyncPiecesResponse, SyncPiecesResponse__Output } from '../gen/dfdaemon/v2/SyncPiecesResponse.ts';
export type { ProtoGrpcType } from '../gen/dfdaemon.ts';
