// Entry point of the sandboxlib executable.
// First, before any module opens a descriptor: which ones the caller gave us.
import "./cli/inherited-fds.ts";
import { main } from "./cli/main.ts";
import { exitNow } from "./native/libc.ts";

exitNow(await main(process.argv.slice(2)));
