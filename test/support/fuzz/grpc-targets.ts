/**
 * What each gRPC service is fuzzed with: for every method, valid requests (encoded by proto-loader
 * from sample objects) broken by `mutate`, plus bytes written from scratch, sent raw through a
 * generic client. A request that still decodes is checked before it is sent: every URL and IP in
 * it must be loopback, and an output path must be inside the test's directory, so a mutation can
 * neither reach past this machine's loopback nor write outside the test.
 */
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { PROTO_DIR, PROTO_FILES, PROTO_LOADER_OPTIONS } from '../../../api/index.ts';
import { keepLoopback } from './http.ts';
import { mutate, randomMessage } from './protobuf.ts';
import type { Rng } from './rng.ts';
import type { FuzzListener, Verdict } from './run.ts';
import { grpc, sendRawGrpc, type GrpcAnswer, type MethodKind } from './send.ts';

interface MethodDefinition {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestSerialize: (value: object) => Buffer;
  readonly requestDeserialize: (bytes: Buffer) => object;
}

let definition: protoLoader.PackageDefinition | undefined;

function service(name: string): Readonly<Record<string, MethodDefinition>> {
  definition ??= protoLoader.loadSync(PROTO_FILES.map((file) => join(PROTO_DIR, file)), { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] });
  const found = definition[name];
  if (!found) throw new Error(`no service ${name} in api/proto`);
  return found as unknown as Record<string, MethodDefinition>;
}

export interface GrpcInput {
  readonly path: string;
  readonly kind: MethodKind;
  readonly messages: readonly Buffer[];
  /** How the bytes were made, for the report. */
  readonly how: string;
}

/** Sample requests per method name (one or more messages each); the fuzzer breaks their encodings. */
export type Samples = Readonly<Record<string, ReadonlyArray<readonly object[]>>>;

export interface GrpcTargetOptions {
  readonly services: readonly string[];
  readonly samples: Samples;
  /** Extra check on a request that still decodes; false replaces it with an empty message. */
  readonly allowed?: (decoded: object) => boolean;
  /** Upper bound of the occasional huge field. */
  readonly hugeBytes: number;
}

function kindOf(method: MethodDefinition): MethodKind {
  if (method.requestStream) return method.responseStream ? 'bidi' : 'client-stream';
  return method.responseStream ? 'server-stream' : 'unary';
}

function staysLocal(decoded: object, allowed: ((decoded: object) => boolean) | undefined): boolean {
  const plain = JSON.parse(JSON.stringify(decoded, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : Buffer.isBuffer(v) ? undefined : v))) as object;
  return JSON.stringify(keepLoopback(plain)) === JSON.stringify(plain) && (allowed?.(plain) ?? true);
}

/** A generator of raw requests for the methods of `services`. */
export function grpcGenerator(options: GrpcTargetOptions): (rng: Rng) => GrpcInput {
  const methods = options.services.flatMap((name) => Object.entries(service(name)).map(([method, def]) => ({ name: method, def })));
  return (rng) => {
    // Well-formed paths only: an empty :path is refused by node:http2 itself (RST_STREAM), never reaching a server.
    if (rng.chance(0.02)) return { path: rng.pick(['/nope.v1.Nothing/Call', `${rng.pick(methods).def.path}x`, `/${rng.pick(methods).def.path.split('/')[1]}/`]), kind: 'unary', messages: [Buffer.alloc(0)], how: 'unknown method' };
    const { name, def } = rng.pick(methods);
    const kind = kindOf(def);
    const samples = options.samples[name] ?? [[{}]];
    const sample = rng.pick(samples);
    const valid = sample.map((message) => def.requestSerialize(message));
    const messages: Buffer[] = [];
    const hows: string[] = [];
    const count = def.requestStream ? valid.length : 1;
    const broken = rng.int(0, count - 1);
    for (let i = 0; i < count; i++) {
      let bytes = valid[i]!;
      let how = 'valid';
      if (i === broken || rng.chance(0.2)) {
        if (rng.chance(0.15)) {
          bytes = randomMessage(rng);
          how = 'random';
        } else {
          const m = mutate(rng, bytes, { hugeBytes: options.hugeBytes });
          bytes = m.bytes;
          how = m.kind;
        }
      }
      let decoded: object | undefined;
      try {
        decoded = def.requestDeserialize(bytes);
      } catch {
        decoded = undefined;
      }
      if (decoded && !staysLocal(decoded, options.allowed)) {
        bytes = Buffer.alloc(0);
        how = `${how}->empty (left loopback)`;
      }
      messages.push(bytes);
      hows.push(how);
    }
    if (def.requestStream && rng.chance(0.1)) messages.push(...Array.from({ length: rng.int(1, 5) }, () => randomMessage(rng)));
    return { path: def.path, kind, messages, how: hows.join('+') };
  };
}

export function describeGrpc(input: GrpcInput): string {
  const sizes = input.messages.map((m) => m.length).join(',');
  return `${input.path} (${input.kind}, ${input.how}) bytes[${sizes}]: ${input.messages.map((m) => m.subarray(0, 48).toString('hex')).join(' | ')}`;
}

/**
 * INTERNAL and UNKNOWN are never right for bad input, except when the daemon reports the origin's
 * failure (`DF_ERR_SOURCE_*` in `df-error-bin`: a URL the fuzzer bent to a missing path or a closed
 * port), which is what the proxy's 502 with `x-dragonfly-error-type: backend` is over HTTP; a call
 * that never ends is a hang.
 */
export function judgeGrpc(answer: GrpcAnswer): Verdict {
  const name = grpc.status[answer.code] ?? String(answer.code);
  const upstream = answer.errorCode?.startsWith('DF_ERR_SOURCE_') ?? false;
  const label = upstream ? `${name} (origin)` : name;
  if (upstream) return { label, ms: answer.ms };
  if (answer.code === grpc.status.INTERNAL || answer.code === grpc.status.UNKNOWN) return { label, ms: answer.ms, problem: `${label}: ${answer.details.slice(0, 200)}` };
  if (answer.code === grpc.status.DEADLINE_EXCEEDED) return { label, ms: answer.ms, problem: 'hang: no status before the deadline' };
  if (answer.code === grpc.status.UNAVAILABLE) return { label, ms: answer.ms, problem: `UNAVAILABLE: ${answer.details.slice(0, 200)} (is the process down?)` };
  return { label, ms: answer.ms };
}

/** A listener fuzzed with raw gRPC calls; `address` is `127.0.0.1:port` or `unix:/path`. */
export function grpcListener(name: string, address: string, generate: (rng: Rng) => GrpcInput, options: { timeoutMs: number }): FuzzListener<GrpcInput> & { close(): void } {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 16 * 1024 * 1024 });
  return {
    name,
    generate,
    describe: describeGrpc,
    send: async (input) => judgeGrpc(await sendRawGrpc(client, input.path, input.kind, input.messages, options)),
    close: () => client.close(),
  };
}
