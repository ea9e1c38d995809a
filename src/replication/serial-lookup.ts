// Upstream host names resolved one at a time: dns.lookup runs getaddrinfo on libuv's thread pool (two threads,
// src/pool-size.ts), and on a link that drops packets a lookup holds its thread for the resolver's whole timeout.
// Several at once would hold every thread and stall the local S3 API's file and LevelDB work with them.
import { lookup as dnsLookup } from 'node:dns';
import type { LookupFunction } from 'node:net';

type Lookup = (hostname: string, options: object, callback: (...answer: unknown[]) => void) => void;

/** A `lookup` for http.Agent that runs at most one `resolve` at a time, in arrival order. */
export function serialLookup(resolve: Lookup = dnsLookup as unknown as Lookup): LookupFunction {
  let last: Promise<void> = Promise.resolve();
  return ((hostname, options, callback) => {
    last = last.then(() => new Promise<void>((done) => {
      resolve(hostname, options, (...answer) => {
        done();
        (callback as (...a: unknown[]) => void)(...answer);
      });
    }));
  }) as LookupFunction;
}
