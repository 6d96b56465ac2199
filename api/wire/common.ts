/** common.v2 wire types (generated in api/gen), for other folders to import through api/index.ts. */
export type { Download, Download__Output } from '../gen/common/v2/Download.ts';
export type { Host, Host__Output } from '../gen/common/v2/Host.ts';
export type { HostType, HostType__Output } from '../gen/common/v2/HostType.ts';
export type { Network, Network__Output } from '../gen/common/v2/Network.ts';
export type { Peer, Peer__Output } from '../gen/common/v2/Peer.ts';
export type { Piece, Piece__Output } from '../gen/common/v2/Piece.ts';
export type { Priority, Priority__Output } from '../gen/common/v2/Priority.ts';
export type { Range, Range__Output } from '../gen/common/v2/Range.ts';
export type { SizeScope, SizeScope__Output } from '../gen/common/v2/SizeScope.ts';
export type { Task, Task__Output } from '../gen/common/v2/Task.ts';
export type { TaskType, TaskType__Output } from '../gen/common/v2/TaskType.ts';
export type { TrafficType, TrafficType__Output } from '../gen/common/v2/TrafficType.ts';
