// libuv's thread pool size, set before anything uses the pool (libuv reads it once, at the first pool job).
//
// Two threads, not libuv's four: ferry's pool jobs are short file syscalls, LevelDB writes and fsyncs, and on
// small machines every idle thread a job must wake costs a futex wake-up and a context switch. Measured with
// `npm run bench` on 2 cores (2026-11-25, same hour): server CPU per 4 KiB PUT 1,011 -> 866 us, per 4 KiB GET
// 449 -> 293 us, per 64 MiB PUT 241 -> 207 ms; every throughput target still met. An operator's own
// UV_THREADPOOL_SIZE wins. Upstream DNS lookups also run on this pool: replication makes them one at a time
// (upstream.ts), so a resolver timing out on a dead link holds at most one thread.
const DEFAULT_POOL_SIZE = 2;
process.env.UV_THREADPOOL_SIZE ??= String(DEFAULT_POOL_SIZE);
