/**
 * Request bytes that are not the method's protobuf message are the client's mistake, but grpc-js
 * answers a deserializer that throws with INTERNAL ("Error deserializing request"), before any
 * handler or interceptor sees the call. So each service's deserializers are wrapped to return an
 * `UndecodableRequest` instead of throwing (`tolerantService`), and one server interceptor
 * (`rejectUndecodable`) ends such a call with INVALID_ARGUMENT naming the method and the decoder's
 * complaint, before the handler sees the message; the handler is told the call was cancelled, as
 * when a client goes away. Pure: no grpc-js import; the shapes below are grpc-js's public
 * service-definition and server-interceptor interfaces.
 */
import { UndecodableRequestError } from './errors.ts';
import { toGrpcError } from './grpc-status.ts';

/** What a wrapped deserializer hands on for bytes it cannot decode. */
export class UndecodableRequest {
  readonly error: UndecodableRequestError;
  constructor(method: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    this.error = new UndecodableRequestError(`${method}: the request is not a valid protobuf message of this method (${reason.slice(0, 200)})`, { cause });
  }
}

interface MethodDefinitionShape {
  readonly path: string;
  readonly requestDeserialize: (bytes: Buffer) => unknown;
}

/** A copy of a grpc-js service definition whose request deserializers never throw. */
export function tolerantService<S extends Readonly<Record<string, MethodDefinitionShape>>>(service: S): S {
  const out: Record<string, MethodDefinitionShape> = {};
  for (const [name, method] of Object.entries(service)) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (error) {
          return new UndecodableRequest(method.path, error);
        }
      },
    };
  }
  return out as unknown as S;
}

/** grpc-js's InterceptingServerListener. */
interface ServerListenerShape {
  onReceiveMetadata(metadata: unknown): void;
  onReceiveMessage(message: unknown): void;
  onReceiveHalfClose(): void;
  onCancel(): void;
}

/** The part of grpc-js's ServerInterceptingCallInterface this interceptor uses. */
interface ServerCallShape {
  start(listener: ServerListenerShape): void;
  sendStatus(status: { code: number; details: string }): void;
}

/**
 * A grpc-js ServerInterceptor (`new grpc.Server({interceptors: [rejectUndecodable]})`): a call whose
 * message is an UndecodableRequest ends with INVALID_ARGUMENT and its handler never sees it.
 */
export function rejectUndecodable<C extends object, R = C>(_method: unknown, call: C): R {
  const inner = call as unknown as ServerCallShape;
  const start = (listener: ServerListenerShape) => {
    let rejected = false;
    inner.start({
      onReceiveMetadata: (metadata) => listener.onReceiveMetadata(metadata),
      onReceiveMessage: (message) => {
        if (rejected) return;
        if (message instanceof UndecodableRequest) {
          rejected = true;
          const { code, details } = toGrpcError(message.error);
          inner.sendStatus({ code, details });
          listener.onCancel();
          return;
        }
        listener.onReceiveMessage(message);
      },
      onReceiveHalfClose: () => {
        if (!rejected) listener.onReceiveHalfClose();
      },
      onCancel: () => {
        if (!rejected) listener.onCancel();
      },
    });
  };
  // The call as it was, but for start(): grpc-js types the result as its own class, hence R.
  return new Proxy(call, {
    get(target, property) {
      if (property === 'start') return start;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as unknown as R;
}
