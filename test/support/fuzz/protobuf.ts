/**
 * Protobuf bytes written by hand, so the fuzzer sends what no typed encoder would: wire types that
 * do not match the field, lengths that run past the end, varints of eleven bytes, groups, and
 * fields of megabytes. `mutate` starts from a valid encoding and breaks it one way or another.
 */
import type { Rng } from './rng.ts';

const WIRE = { varint: 0, i64: 1, len: 2, groupStart: 3, groupEnd: 4, i32: 5 } as const;

export function varint(value: bigint | number): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? byte | 0x80 : byte);
  } while (v > 0n);
  return Buffer.from(out);
}

export function tag(field: number, wire: number): Buffer {
  return varint((BigInt(field) << 3n) | BigInt(wire & 7));
}

export function lengthDelimited(field: number, body: Buffer): Buffer {
  return Buffer.concat([tag(field, WIRE.len), varint(body.length), body]);
}

/** One top-level field as it sits in an encoding (tag through value). */
interface RawField {
  readonly field: number;
  readonly wire: number;
  readonly bytes: Buffer;
  /** The value bytes (for LEN: without the length prefix). */
  readonly value: Buffer;
}

function readVarint(buf: Buffer, at: number): { value: bigint; next: number } | undefined {
  let value = 0n;
  for (let shift = 0n, i = at; i < buf.length && shift < 70n; i++, shift += 7n) {
    value |= BigInt(buf[i]! & 0x7f) << shift;
    if ((buf[i]! & 0x80) === 0) return { value, next: i + 1 };
  }
  return undefined;
}

/** The top-level fields of a valid encoding (stops at the first thing it cannot read). */
export function splitFields(buf: Buffer): RawField[] {
  const fields: RawField[] = [];
  let at = 0;
  while (at < buf.length) {
    const key = readVarint(buf, at);
    if (!key) break;
    const field = Number(key.value >> 3n);
    const wire = Number(key.value & 7n);
    let end: number;
    let valueStart = key.next;
    if (wire === WIRE.varint) {
      const v = readVarint(buf, key.next);
      if (!v) break;
      end = v.next;
    } else if (wire === WIRE.i64) end = key.next + 8;
    else if (wire === WIRE.i32) end = key.next + 4;
    else if (wire === WIRE.len) {
      const len = readVarint(buf, key.next);
      if (!len) break;
      valueStart = len.next;
      end = len.next + Number(len.value);
    } else break;
    if (end > buf.length) break;
    fields.push({ field, wire, bytes: buf.subarray(at, end), value: buf.subarray(valueStart, end) });
    at = end;
  }
  return fields;
}

/** A field of any wire type with a value of that type (or deliberately not). */
export function randomField(rng: Rng, depth = 0): Buffer {
  const field = rng.weighted<number>([[8, rng.int(1, 30)], [1, rng.int(31, 536_870_911)], [1, 0]]);
  const wire = rng.weighted<number>([[4, WIRE.varint], [4, WIRE.len], [1, WIRE.i64], [1, WIRE.i32], [1, WIRE.groupStart], [1, WIRE.groupEnd], [1, rng.int(6, 7)]]);
  const head = tag(field, wire);
  switch (wire) {
    case WIRE.varint:
      return Buffer.concat([head, rng.chance(0.1) ? Buffer.alloc(rng.int(10, 12), 0xff) : varint(BigInt(rng.u32()) * BigInt(rng.chance(0.3) ? rng.u32() : 1))]);
    case WIRE.i64:
      return Buffer.concat([head, rng.bytes(rng.chance(0.8) ? 8 : rng.int(0, 7))]);
    case WIRE.i32:
      return Buffer.concat([head, rng.bytes(rng.chance(0.8) ? 4 : rng.int(0, 3))]);
    case WIRE.len: {
      const body = depth < 3 && rng.chance(0.3) ? randomMessage(rng, depth + 1) : rng.bytes(rng.int(0, 40));
      // Sometimes the length says more (or far more) than follows.
      const said = rng.weighted<number | bigint>([[8, body.length], [1, body.length + rng.int(1, 100)], [1, 2n ** 63n], [1, 0xffffffff]]);
      return Buffer.concat([head, varint(said), body]);
    }
    default:
      return head;
  }
}

export function randomMessage(rng: Rng, depth = 0): Buffer {
  return Buffer.concat(Array.from({ length: rng.int(0, 6) }, () => randomField(rng, depth)));
}

export type MutationKind = 'truncate' | 'flip' | 'insert' | 'wrong-type' | 'bad-length' | 'duplicate' | 'append-field' | 'huge-field' | 'random';

/** A valid encoding broken one way (the way is returned for the report). */
export function mutate(rng: Rng, valid: Buffer, options: { hugeBytes: number }): { kind: MutationKind; bytes: Buffer } {
  const kind = rng.weighted<MutationKind>([
    [3, 'truncate'], [3, 'flip'], [2, 'insert'], [3, 'wrong-type'], [2, 'bad-length'], [1, 'duplicate'], [3, 'append-field'], [0.3, 'huge-field'], [2, 'random'],
  ]);
  const fields = splitFields(valid);
  switch (kind) {
    case 'truncate':
      return { kind, bytes: valid.subarray(0, rng.int(0, Math.max(0, valid.length - 1))) };
    case 'flip': {
      const out = Buffer.from(valid);
      for (let i = rng.int(1, 4); i > 0 && out.length > 0; i--) out[rng.int(0, out.length - 1)]! ^= 1 << rng.int(0, 7);
      return { kind, bytes: out };
    }
    case 'insert': {
      const at = rng.int(0, valid.length);
      return { kind, bytes: Buffer.concat([valid.subarray(0, at), rng.bytes(rng.int(1, 16)), valid.subarray(at)]) };
    }
    case 'wrong-type': {
      // Same field number, another wire type: a string sent as a varint, a number as bytes.
      if (fields.length === 0) return { kind, bytes: randomField(rng) };
      const victim = rng.int(0, fields.length - 1);
      const f = fields[victim]!;
      const replacement =
        f.wire === WIRE.len
          ? rng.pick([Buffer.concat([tag(f.field, WIRE.varint), varint(rng.u32())]), Buffer.concat([tag(f.field, WIRE.i32), rng.bytes(4)]), Buffer.concat([tag(f.field, WIRE.i64), rng.bytes(8)])])
          : lengthDelimited(f.field, rng.bytes(rng.int(0, 20)));
      return { kind, bytes: Buffer.concat(fields.map((x, i) => (i === victim ? replacement : x.bytes))) };
    }
    case 'bad-length': {
      const lens = fields.filter((f) => f.wire === WIRE.len);
      if (lens.length === 0) return { kind, bytes: Buffer.concat([valid, tag(1, WIRE.len), varint(1000)]) };
      const f = rng.pick(lens);
      const said = rng.pick<number | bigint>([f.value.length + 1, f.value.length + 1000, 0xffffffff, 2n ** 64n - 1n]);
      const broken = Buffer.concat([tag(f.field, WIRE.len), varint(said), f.value]);
      return { kind, bytes: Buffer.concat(fields.map((x) => (x === f ? broken : x.bytes))) };
    }
    case 'duplicate':
      return { kind, bytes: fields.length === 0 ? valid : Buffer.concat([valid, rng.pick(fields).bytes, rng.pick(fields).bytes]) };
    case 'append-field':
      return { kind, bytes: Buffer.concat([valid, randomField(rng)]) };
    case 'huge-field': {
      const field = fields.length > 0 && rng.chance(0.7) ? rng.pick(fields).field : rng.int(1, 30);
      return { kind, bytes: Buffer.concat([valid, lengthDelimited(field, Buffer.alloc(rng.int(options.hugeBytes / 2, options.hugeBytes), rng.pick([0x41, 0x2f, 0x00, 0xff])))]) };
    }
    case 'random':
      return { kind, bytes: rng.chance(0.5) ? randomMessage(rng) : rng.bytes(rng.int(0, 64)) };
  }
}
