// The runner's protocol, from the .proto files embedded in the executable
// (imported as text: nothing is read from disk at run time).
import type { ServiceDefinition } from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { decodeMessage, encodeMessage } from "./codec.ts";
import resourceUsageProto from "./resourceusage.proto" with { type: "text" };
import runnerProto from "./runner.proto" with { type: "text" };

const WELL_KNOWN = ["google/protobuf/any.proto", "google/protobuf/duration.proto", "google/protobuf/empty.proto"];

/** Both files and the well-known types they import, in one protobufjs root. */
export function protoRoot(): protobuf.Root {
  const root = new protobuf.Root();
  for (const file of WELL_KNOWN) root.addJSON((protobuf.common as unknown as { get(f: string): { nested: protobuf.INamespace["nested"] } }).get(file).nested!);
  protobuf.parse(resourceUsageProto, root, { keepCase: true });
  protobuf.parse(runnerProto, root, { keepCase: true });
  // protobufjs makes each type's constructor with `new Function` on first
  // use (resolving a field uses it), which the executable forbids: each
  // gets a plain one first. Encoding is codec.ts's, without constructors.
  const giveConstructors = (ns: protobuf.NamespaceBase) => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type) nested.ctor = function Message() {} as unknown as protobuf.Constructor<object>;
      if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) giveConstructors(nested);
    }
  };
  giveConstructors(root);
  root.resolveAll();
  return root;
}

/**
 * The grpc-js definition of a service of `root` (unary methods), with the
 * codec of codec.ts: plain objects, field names as in the .proto, every
 * field present (proto3 defaults), 64-bit integers as numbers.
 */
export function serviceDefinition(root: protobuf.Root, name: string): ServiceDefinition {
  const service = root.lookupService(name);
  const def: Record<string, unknown> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const req = method.resolvedRequestType!;
    const res = method.resolvedResponseType!;
    def[method.name] = {
      path: `/${name}/${method.name}`,
      requestStream: !!method.requestStream,
      responseStream: !!method.responseStream,
      requestSerialize: (v: Record<string, unknown>) => Buffer.from(encodeMessage(req, v)),
      requestDeserialize: (b: Buffer) => decodeMessage(req, b),
      responseSerialize: (v: Record<string, unknown>) => Buffer.from(encodeMessage(res, v)),
      responseDeserialize: (b: Buffer) => decodeMessage(res, b),
      originalName: method.name,
    };
  }
  return def as unknown as ServiceDefinition;
}

export const POSIX_RESOURCE_USAGE_URL = "type.googleapis.com/buildbarn.resourceusage.POSIXResourceUsage";

export interface PosixUsage {
  userMs: number;
  sysMs: number;
  maxRssBytes: number;
  terminationSignal: string;
}

const duration = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: Math.round((ms % 1000) * 1e6) });

/** POSIXResourceUsage, packed in an Any. */
export function packUsage(root: protobuf.Root, u: PosixUsage): { type_url: string; value: Uint8Array } {
  const type = root.lookupType("buildbarn.resourceusage.POSIXResourceUsage");
  const value = encodeMessage(type, {
    user_time: duration(u.userMs),
    system_time: duration(u.sysMs),
    maximum_resident_set_size: u.maxRssBytes,
    termination_signal: u.terminationSignal,
  });
  return { type_url: POSIX_RESOURCE_USAGE_URL, value };
}
