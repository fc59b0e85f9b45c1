// A Buildbarn-side gRPC client in another runtime (Node, @grpc/grpc-js) with
// the project's own .proto files, read from disk here as any client would.
//
//   node client.cjs SOCKET < calls.json > results.json
//
// calls: [{ "method": "Run" | "CheckReadiness" | "Raw", "request": {...},
// "deadline_ms": N, "cancel_after_ms": N, "raw_hex": "..." }], all issued at once; results, in
// order: { "code", "details", "response", "usage", "ms" } (code 0 = OK),
// with the resource usage decoded as POSIXResourceUsage.
"use strict";
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const loader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");

const dir = path.join(__dirname, "../../src/runner");
const options = { keepCase: true, longs: Number, defaults: true, includeDirs: [dir] };
const def = loader.loadSync(["runner.proto", "resourceusage.proto"], options);
const proto = grpc.loadPackageDefinition(def);
const root = new protobuf.Root().loadSync(path.join(dir, "resourceusage.proto"), { keepCase: true });
const Usage = root.lookupType("buildbarn.resourceusage.POSIXResourceUsage");

const socket = process.argv[2];
const client = new proto.buildbarn.runner.Runner(`unix:${socket}`, grpc.credentials.createInsecure());

function call(c) {
  const started = Date.now();
  const meta = new grpc.Metadata();
  const opts = c.deadline_ms ? { deadline: Date.now() + c.deadline_ms } : {};
  return new Promise((resolve) => {
    const done = (err, response) => {
      const out = { code: err ? err.code : 0, details: err ? err.details : "", response: response ?? null, usage: null, ms: Date.now() - started };
      if (response && response.resource_usage) {
        out.usage = response.resource_usage.map((any) => ({ type_url: any.type_url, ...Usage.toObject(Usage.decode(any.value), { longs: Number, defaults: true }) }));
        delete response.resource_usage;
      }
      resolve(out);
    };
    if (c.method === "Raw") {
      // Bytes that are not a RunRequest, sent as one.
      client.makeUnaryRequest("/buildbarn.runner.Runner/Run", (b) => b, (b) => b, Buffer.from(c.raw_hex, "hex"), meta, opts, done);
    } else {
      const call = client[c.method](c.request ?? {}, meta, opts, done);
      if (c.cancel_after_ms) setTimeout(() => call.cancel(), c.cancel_after_ms);
    }
  });
}

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  const results = await Promise.all(JSON.parse(input).map(call));
  process.stdout.write(JSON.stringify(results));
  client.close();
});
