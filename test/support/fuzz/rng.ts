/**
 * A seeded generator for the fuzz inputs (sfc32, 32-bit state words): the same seed gives the same
 * inputs, so a failure is reproduced by running again with the seed it printed. Small helpers for
 * the shapes the generators need (ints biased to edges, picks, strings from alphabets, bytes).
 */

export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }

  /** A generator of its own for `label`, so each listener's inputs do not depend on the others'. */
  static derive(seed: number, label: string): Rng {
    let h = seed >>> 0;
    for (const ch of label) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    return new Rng(h);
  }

  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(items: ReadonlyArray<readonly [number, T]>): T {
    const total = items.reduce((sum, [w]) => sum + w, 0);
    let at = this.float() * total;
    for (const [w, value] of items) {
      if ((at -= w) < 0) return value;
    }
    return items[items.length - 1]![1];
  }

  /** `length` characters drawn from `alphabet`. */
  string(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.float() * alphabet.length)];
    return out;
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** A number text near the edges parsers get wrong: 0, -1, 2^31, 2^32, 2^53, 2^64, long digit runs. */
  edgeNumber(): string {
    return this.pick([
      '0', '1', '-1', '-0', '00', '007', '1e3', '0x10', '1.5', ' 1', '+1', '4294967295', '4294967296', '2147483648',
      '9007199254740991', '9007199254740993', '18446744073709551615', '18446744073709551616', '9'.repeat(40), 'NaN', 'Infinity', '',
    ]);
  }
}

/** A seed from DF_FUZZ_SEED, else a fresh one (printed with every failure). */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.DF_FUZZ_SEED;
  if (text !== undefined && text !== '') {
    const seed = Number(text);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`DF_FUZZ_SEED must be a non-negative integer, got ${JSON.stringify(text)}`);
    return seed >>> 0;
  }
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

/** Inputs per listener from DF_FUZZ_RUNS, else `fallback`. */
export function fuzzRuns(fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const text = env.DF_FUZZ_RUNS;
  if (text === undefined || text === '') return fallback;
  const runs = Number(text);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`DF_FUZZ_RUNS must be a positive integer, got ${JSON.stringify(text)}`);
  return runs;
}
