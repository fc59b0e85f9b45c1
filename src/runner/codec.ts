// Protocol buffers encoding driven by the message types parsed from the
// embedded .proto files, with protobufjs's Reader and Writer. protobufjs's
// own encoders are generated at run time with `new Function`, which the
// executable forbids (--disallow-code-generation-from-strings=strict, see
// scripts/executable.ts): this walks the reflected fields instead. It covers
// what proto3 messages use: scalars, strings, bytes, nested messages,
// repeated fields (packed or not) and maps.
import protobuf from "protobufjs";

type Plain = Record<string, unknown>;

const WIRE_LENGTH = 2;

/** The wire type of a scalar type name; undefined for messages. */
const scalarWire = (type: string): number | undefined => (protobuf.types.basic as Record<string, number>)[type];

/** The message type a field refers to, or null for a scalar (enums count as int32). */
function messageType(field: protobuf.Field): protobuf.Type | null {
  const resolved = field.resolve().resolvedType;
  return resolved instanceof protobuf.Type ? resolved : null;
}

const scalarName = (field: protobuf.Field, type: string) => (field.resolve().resolvedType instanceof protobuf.Enum ? "int32" : type);

/** A number from what the Reader gives for 64-bit fields (a Long, or a number). */
const toNumber = (v: unknown): unknown => (typeof v === "object" && v !== null && "toNumber" in v ? (v as { toNumber(): number }).toNumber() : v);

function scalarDefault(type: string): unknown {
  switch (type) {
    case "string":
      return "";
    case "bytes":
      return new Uint8Array(0);
    case "bool":
      return false;
    default:
      return 0;
  }
}

function defaultOf(field: protobuf.Field): unknown {
  if (field.map) return {};
  if (field.repeated) return [];
  if (messageType(field)) return null;
  return scalarDefault(scalarName(field, field.type));
}

function writeScalar(w: protobuf.Writer, type: string, id: number, value: unknown): void {
  const wire = scalarWire(type);
  if (wire === undefined) throw new Error(`unsupported field type ${type}`);
  w.uint32((id << 3) | wire);
  (w as unknown as Record<string, (v: unknown) => void>)[type]!.call(w, value);
}

function writeValue(w: protobuf.Writer, field: protobuf.Field, id: number, value: unknown): void {
  const sub = messageType(field);
  if (sub) {
    w.uint32((id << 3) | WIRE_LENGTH).bytes(encodeMessage(sub, value as Plain));
  } else writeScalar(w, scalarName(field, field.type), id, value);
}

const isDefault = (v: unknown) => v === undefined || v === null || v === "" || v === 0 || v === false || (v instanceof Uint8Array && v.length === 0);

/** Encodes a plain object (field names as in the .proto) as `type`. */
export function encodeMessage(type: protobuf.Type, value: Plain): Uint8Array {
  const w = protobuf.Writer.create();
  for (const field of type.fieldsArray) {
    const v = value[field.name];
    if (v === undefined || v === null) continue;
    if (field instanceof protobuf.MapField) {
      for (const [key, item] of Object.entries(v as Plain)) {
        const entry = protobuf.Writer.create();
        writeScalar(entry, field.keyType, 1, field.keyType === "string" || field.keyType === "bool" ? key : Number(key));
        writeValue(entry, field, 2, item);
        w.uint32((field.id << 3) | WIRE_LENGTH).bytes(entry.finish());
      }
    } else if (field.repeated) {
      for (const item of v as unknown[]) writeValue(w, field, field.id, item);
    } else if (messageType(field) || !isDefault(v)) writeValue(w, field, field.id, v);
  }
  return w.finish();
}

function readScalar(r: protobuf.Reader, type: string): unknown {
  return toNumber((r as unknown as Record<string, () => unknown>)[type]!.call(r));
}

function readValue(r: protobuf.Reader, field: protobuf.Field, wire: number): unknown {
  const sub = messageType(field);
  if (sub) {
    if (wire !== WIRE_LENGTH) throw new Error(`field ${field.name}: wire type ${wire}, expected a message`);
    return decodeMessage(sub, r.bytes());
  }
  const type = scalarName(field, field.type);
  if (wire !== scalarWire(type)) throw new Error(`field ${field.name}: wire type ${wire}, expected ${scalarWire(type)}`);
  return readScalar(r, type);
}

/** Decodes `bytes` as `type` into a plain object with every field (proto3 defaults for the absent). Throws on malformed input. */
export function decodeMessage(type: protobuf.Type, bytes: Uint8Array): Plain {
  const r = protobuf.Reader.create(bytes);
  const out: Plain = {};
  for (const field of type.fieldsArray) out[field.name] = defaultOf(field);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    if (id === 0) throw new Error("invalid field number 0");
    const field = type.fieldsById[id];
    if (!field) {
      r.skipType(wire);
      continue;
    }
    if (field instanceof protobuf.MapField) {
      if (wire !== WIRE_LENGTH) throw new Error(`field ${field.name}: wire type ${wire}, expected a map entry`);
      const entry = protobuf.Reader.create(r.bytes());
      let key: unknown = scalarDefault(field.keyType);
      let value: unknown = messageType(field) ? null : scalarDefault(scalarName(field, field.type));
      while (entry.pos < entry.len) {
        const t = entry.uint32();
        if (t >>> 3 === 1 && (t & 7) === scalarWire(field.keyType)) key = readScalar(entry, field.keyType);
        else if (t >>> 3 === 2) value = readValue(entry, field, t & 7);
        else entry.skipType(t & 7);
      }
      (out[field.name] as Plain)[String(key)] = value;
    } else if (field.repeated) {
      const list = out[field.name] as unknown[];
      const type = scalarName(field, field.type);
      const packable = !messageType(field) && type !== "string" && type !== "bytes";
      if (packable && wire === WIRE_LENGTH) {
        const end = r.uint32() + r.pos;
        while (r.pos < end) list.push(readScalar(r, type));
      } else list.push(readValue(r, field, wire));
    } else out[field.name] = readValue(r, field, wire);
  }
  if (r.pos !== r.len) throw new Error("truncated message");
  return out;
}
