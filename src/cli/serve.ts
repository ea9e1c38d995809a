// `ferry serve`: load config, start the endpoint, print where it is (and generated credentials, once), stop on signals.
import type { Command } from 'commander';
import { ConfigError, DEFAULTS, loadConfig } from '../config/index.ts';
import { startServer } from '../server.ts';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the S3 endpoint in the foreground')
    .option('-d, --data-dir <dir>', `data directory (env FERRY_DATA_DIR, default ${DEFAULTS.dataDir})`)
    .option('-a, --address <host:port>', `listen address (env FERRY_ADDRESS, default ${DEFAULTS.address})`)
    .addHelpText(
      'after',
      `
Environment:
  FERRY_ROOT_ACCESS_KEY / FERRY_ROOT_SECRET_KEY  root credentials (generated into the data dir when unset)
  FERRY_REGION            region the endpoint answers for (default ${DEFAULTS.region})
  FERRY_DOMAIN            base domain for virtual-host-style requests (bucket.<domain>)
  FERRY_STALE_UPLOAD_HOURS  abort incomplete multipart uploads older than this at startup (default ${DEFAULTS.staleUploadAgeHours})
  FERRY_MIN_FREE_MB       MiB of disk that uploads leave free for metadata and deletes (default ${DEFAULTS.minFreeMiB}; 0: off)`,
    )
    .action(async (opts: { dataDir?: string; address?: string }) => {
      try {
        const { config, credentialsGenerated, credentialsFile } = await loadConfig(opts);
        const server = await startServer(config);
        const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
        const endpoint = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${server.port}`;
        // Handlers first: stdout to a pipe is synchronous, so whoever reads the listening line may signal at once.
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) {
            // A second Ctrl-C means "now": skip the grace period.
            if (signal === 'SIGINT') process.exit(130);
            return;
          }
          stopping = true;
          console.log(`${signal}: finishing in-flight requests, then stopping`);
          server.close().then(
            () => process.exit(0),
            (err: unknown) => {
              console.error(`error while stopping: ${(err as Error).message}`);
              process.exit(1);
            },
          );
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
        // One write, so a supervisor or a test never sees the endpoint without its credentials line.
        const lines = [`ferry listening on ${config.host}:${server.port} (endpoint ${endpoint}, region ${config.region})`, `data dir: ${config.dataDir}`];
        if (credentialsGenerated) {
          lines.push(
            `generated root credentials (shown once; kept in ${credentialsFile}, mode 0600):`,
            `  access key: ${config.rootAccessKey}`,
            `  secret key: ${config.rootSecretKey}`,
          );
        } else {
          lines.push(`root access key: ${config.rootAccessKey}${credentialsFile ? ` (secret in ${credentialsFile})` : ''}`);
        }
        console.log(lines.join('\n'));
      } catch (err) {
        if (err instanceof ConfigError) {
          console.error(`ferry: ${err.message}`);
          process.exit(2);
        }
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES') {
          console.error(`ferry: cannot listen: ${(err as Error).message}`);
          process.exit(1);
        }
        if (code === 'LEVEL_LOCKED' || (err as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED') {
          console.error('ferry: the data dir is in use by another ferry process');
          process.exit(1);
        }
        throw err;
      }
    });
}
