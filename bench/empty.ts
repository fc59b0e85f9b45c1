// An empty program, compiled exactly as dist/sandboxlib is: its cold run time
// is what Bun's start-up alone costs, the floor under any `sandboxlib run`.
export {};
