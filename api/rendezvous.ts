/**
 * Rendezvous (highest random weight) hashing: which of several nodes owns a key. Every peer that
 * knows the same node list picks the same owner for a task without talking to anyone, and when a
 * node joins or leaves only the keys that node wins or held change hands (about 1/n of them),
 * unlike `hash % n`, which moves almost every key when n changes.
 */
import { createHash } from 'node:crypto';

/**
 * The weight of `node` for `key`: the first 8 bytes of sha256(node NUL key), big-endian. sha256
 * rather than a fast non-crypto hash because this runs once per task, not per piece, and any
 * process in any language can reproduce it. The NUL keeps ("ab","c") apart from ("a","bc").
 */
export function rendezvousWeight(node: string, key: string): bigint {
  return createHash('sha256').update(node).update('\0').update(key).digest().readBigUInt64BE(0);
}

/**
 * The node owning `key`: the one with the highest weight; equal weights (never seen in practice,
 * but the answer must not depend on list order) go to the smaller node string. Duplicates in
 * `nodes` count once. `undefined` for an empty list. `weightOf` is there so the tie rule can be
 * exercised; callers leave it out.
 */
export function ownerOf(
  key: string,
  nodes: readonly string[],
  weightOf: (node: string, key: string) => bigint = rendezvousWeight,
): string | undefined {
  let owner: string | undefined;
  let best = -1n;
  for (const node of nodes) {
    const weight = weightOf(node, key);
    if (weight > best || (weight === best && owner !== undefined && node < owner)) {
      best = weight;
      owner = node;
    }
  }
  return owner;
}
