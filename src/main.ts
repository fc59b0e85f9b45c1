// Entry point of the sandboxlib executable.
import { main } from "./cli/main.ts";
import { exitNow } from "./native/libc.ts";

exitNow(await main(process.argv.slice(2)));
