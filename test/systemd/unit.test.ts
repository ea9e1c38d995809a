// systemd/ferry.service: what `ferry install` writes, clean under systemd-analyze verify, and as sandboxed as promised.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCAL_BINARY, PACKAGE_BINARY, renderEnvFile, renderUnit, STOP_TIMEOUT_SEC } from '../../src/cli/systemd-files.ts';
import { MAIN, requireTool, ROOT, runTool, unitEntries, verifyUnit } from './helpers.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const REGENERATE = 'regenerate: node src/main.ts install --print-unit > systemd/ferry.service; node src/main.ts install --print-env > systemd/ferry.env';

test('systemd/ferry.service and systemd/ferry.env are exactly what ferry install writes', async () => {
  assert.equal(await readFile(join(ROOT, 'systemd/ferry.service'), 'utf8'), renderUnit({ binary: LOCAL_BINARY }), REGENERATE);
  assert.equal(await readFile(join(ROOT, 'systemd/ferry.env'), 'utf8'), renderEnvFile(), REGENERATE);
});

test('install --print-unit and --print-env print the shipped files', () => {
  const unit = runTool(process.execPath, [MAIN, 'install', '--print-unit']);
  assert.equal(unit.status, 0, unit.stderr);
  assert.equal(unit.stdout, renderUnit({ binary: LOCAL_BINARY }));
  const env = runTool(process.execPath, [MAIN, 'install', '--print-env']);
  assert.equal(env.status, 0, env.stderr);
  assert.equal(env.stdout, renderEnvFile());
  const other = runTool(process.execPath, [MAIN, 'install', '--print-unit', '--user', 'gateway-s3']);
  assert.match(other.stdout, /^User=gateway-s3$/m);
  assert.match(other.stdout, /^Group=gateway-s3$/m);
});

for (const binary of [LOCAL_BINARY, PACKAGE_BINARY]) {
  test(`the unit for ${binary} passes systemd-analyze verify with no output at all`, async () => {
    requireTool('systemd-analyze', 'systemd');
    const unit = renderUnit({ binary });
    assert.match(unit, new RegExp(`^ExecStart=${binary} serve$`, 'm'));
    assert.equal(await verifyUnit(unit), '');
  });
}

test('the verify check itself catches an unknown key (systemd-analyze exits 0 on those)', async () => {
  requireTool('systemd-analyze', 'systemd');
  const broken = renderUnit({ binary: LOCAL_BINARY }).replace('[Service]\n', '[Service]\nProtectEverything=yes\n');
  assert.match(await verifyUnit(broken), /ProtectEverything/);
});

test('systemd-analyze security rates the unit 2.0 or better (offline)', async () => {
  requireTool('systemd-analyze', 'systemd');
  const dir = await mkdtemp(join(tmpdir(), 'ferry-security-'));
  dirs.push(dir);
  const exe = join(dir, 'ferry');
  await writeFile(exe, '#!/bin/sh\nexit 0\n');
  await chmod(exe, 0o755);
  await writeFile(join(dir, 'ferry.service'), renderUnit({ binary: exe }));
  const r = runTool('systemd-analyze', ['security', '--offline=yes', '--no-pager', join(dir, 'ferry.service')]);
  const score = /Overall exposure level for ferry\.service: ([\d.]+)/.exec(r.stdout)?.[1];
  assert.ok(score, `${r.stdout}${r.stderr}`);
  assert.ok(Number(score) <= 2.0, `exposure ${score} > 2.0:\n${r.stdout.split('\n').filter((l) => l.includes('✗')).join('\n')}`);
});

test('the unit carries the service settings and sandboxing an admin expects', async () => {
  const entries = unitEntries(renderUnit({ binary: LOCAL_BINARY }));
  const get = (key: string) => entries.filter(([k]) => k === key).map(([, v]) => v);
  const expected: [string, string][] = [
    ['User', 'ferry'],
    ['Group', 'ferry'],
    ['ExecStart', `${LOCAL_BINARY} serve`],
    ['EnvironmentFile', '/etc/ferry/ferry.env'],
    ['Environment', 'FERRY_DATA_DIR=%S/ferry'],
    ['StateDirectory', 'ferry'],
    ['CacheDirectory', 'ferry'],
    ['Restart', 'on-failure'],
    ['KillSignal', 'SIGTERM'],
    ['LimitNOFILE', '65536'],
    ['UMask', '0077'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'],
    ['NoNewPrivileges', 'yes'],
    ['CapabilityBoundingSet', ''],
    ['AmbientCapabilities', ''],
    ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX'],
    ['SystemCallFilter', '@system-service'],
    ['SystemCallArchitectures', 'native'],
    ['ProtectKernelTunables', 'yes'],
    ['ProtectKernelModules', 'yes'],
    ['ProtectKernelLogs', 'yes'],
    ['ProtectControlGroups', 'yes'],
    ['RestrictNamespaces', 'yes'],
    ['LockPersonality', 'yes'],
    ['RestrictRealtime', 'yes'],
    ['RestrictSUIDSGID', 'yes'],
    ['ProtectClock', 'yes'],
    ['ProtectHostname', 'yes'],
    // V8's JIT maps writable+executable memory: turning this on kills ferry at start.
    ['MemoryDenyWriteExecute', 'no'],
    ['StandardOutput', 'journal'],
    ['StandardError', 'journal'],
    ['WantedBy', 'multi-user.target'],
  ];
  for (const [key, value] of expected) assert.deepEqual(get(key), [value], key);
  assert.ok(Number(get('RestartSec')[0]?.replace(/s$/, '')) > 0, 'RestartSec');
  assert.ok(Number(get('StartLimitBurst')[0]) > 0 && Number(get('StartLimitIntervalSec')[0]) > 0, 'start-limit back-off');
  // ferry drains in-flight requests (src/server.ts close(graceMs = ...)), then closes LevelDB: stop must outlast that.
  assert.equal(get('TimeoutStopSec')[0], `${STOP_TIMEOUT_SEC}s`);
  const drain = /close\(graceMs = ([\d_]+)\)/.exec(await readFile(join(ROOT, 'src/server.ts'), 'utf8'))?.[1];
  assert.ok(drain, 'src/server.ts still declares its drain deadline as close(graceMs = N)');
  assert.ok(STOP_TIMEOUT_SEC * 1000 >= Number(drain.replace(/_/g, '')) + 5_000, `TimeoutStopSec ${STOP_TIMEOUT_SEC}s vs drain ${drain} ms`);
  assert.deepEqual(get('ReadWritePaths'), [], 'StateDirectory/CacheDirectory already make the only writable paths');
});
