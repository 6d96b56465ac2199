/**
 * Checks of the task ids and piece numbers peers send, before anything touches the store. Every
 * rule fails with InvalidArgumentError (INVALID_ARGUMENT), naming the field; sizes are bounded so a
 * hostile peer cannot make the daemon keep huge sets. A download request is checked where it is
 * built (tasks/request.ts). Pure: no I/O.
 */
import { InvalidArgumentError, isTaskId } from '../../api/index.ts';
import { REQUEST_LIMITS } from '../tasks/request.ts';

function short(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
}

export function checkTaskId(taskId: string, name = 'task_id'): string {
  if (typeof taskId !== 'string' || !isTaskId(taskId)) {
    throw new InvalidArgumentError(`${name} ${short(String(taskId ?? ''))} is not a task id (64 lower-case hex characters)`);
  }
  return taskId;
}

/** Piece numbers a SyncPieces caller is interested in: bounded, each below `pieceCount`. */
export function checkPieceNumbers(numbers: readonly number[], pieceCount: number): ReadonlySet<number> | undefined {
  if (numbers.length === 0) return undefined;
  if (numbers.length > REQUEST_LIMITS.interestedPieces) throw new InvalidArgumentError(`too many interested_piece_numbers (${numbers.length})`);
  for (const number of numbers) {
    if (!Number.isSafeInteger(number) || number < 0 || number >= pieceCount) {
      throw new InvalidArgumentError(`piece number ${number} is out of range: the task has ${pieceCount} pieces`);
    }
  }
  return new Set(numbers);
}
