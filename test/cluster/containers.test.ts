// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The container image (containers/Dockerfile) under testcontainers: build it, sort a simulated
 * recording in a container, then with a coordinator and two worker containers on a Docker
 * network, then again while one worker is stopped mid-run. Needs a Docker daemon and the base
 * images of containers/build-base.sh (.ci/run makes both); skipped with a message otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { GenericContainer, Network, Wait } from 'testcontainers';
import type { StartedNetwork, StartedTestContainer } from 'testcontainers';
import { packageRoot } from '../../native/lib/index.js';
import { tmpDir } from '../helpers/tmp.js';
import {
  assertUsefulSorting,
  compareProbe,
  missingFeatures,
  outputDigests,
  sh,
  simulateSession,
  waitFor,
} from './cluster-helpers.js';

// Offline: no reaper image to pull; every container and the network are stopped in after().
process.env['TESTCONTAINERS_RYUK_DISABLED'] = 'true';

const repoRoot = packageRoot();
const image = 'spikeshard:cluster-test';
const baseImages = ['spikeshard-base:bookworm-build', 'spikeshard-base:bookworm-runtime'];
const workerPort = 50051;

function dockerUnavailable(): string | undefined {
  const info = sh('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 20_000 });
  if (info.status !== 0)
    return `no Docker daemon answers (${(info.stderr || 'docker not installed').trim().split('\n')[0]}); run .ci/setup-docker.sh as root`;
  const missing = baseImages.filter((name) => sh('docker', ['image', 'inspect', name]).status !== 0);
  if (missing.length > 0) return `base image(s) ${missing.join(', ')} missing; run containers/build-base.sh as root`;
  return undefined;
}
const unavailable = dockerUnavailable();
if (unavailable) console.log(`# container suite skipped: ${unavailable}`);

/** Collects a container's output (stdout and stderr) as text. */
function collect(into: string[]): (stream: Readable) => void {
  return (stream) => stream.on('data', (chunk: Buffer | string) => into.push(String(chunk)));
}

describe('containers/Dockerfile', { skip: unavailable ?? false, timeout: 45 * 60_000 }, () => {
  let dir = '';
  let cleanup = (): void => {};
  let session = '';
  let reference: Record<string, string> | undefined;
  const started: StartedTestContainer[] = [];
  let network: StartedNetwork | undefined;
  const secret = randomBytes(32).toString('hex');

  before(async () => {
    ({ dir, cleanup } = tmpDir('spikeshard-containers-'));
    // The image runs as a non-root user: it reads the session and writes the run folders.
    chmodSync(dir, 0o755);
    session = path.join(dir, 'session');
    simulateSession(session, { probes: 1, seconds: 30, seed: 9 });
    const startedAt = Date.now();
    await GenericContainer.fromDockerfile(repoRoot, 'containers/Dockerfile').build(image, { deleteOnExit: false });
    console.log(`# image ${image} built in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
  });
  after(async () => {
    for (const container of started) await container.stop({ timeout: 5_000 }).catch(() => undefined);
    await network?.stop().catch(() => undefined);
    if (process.env['SPIKESHARD_KEEP_TEST_DIRS'] === '1') console.log(`# kept ${dir}`);
    else cleanup();
  });

  /** A writable run folder for the container user. */
  function runFolder(name: string): string {
    const out = path.join(dir, name);
    mkdirSync(out);
    chmodSync(out, 0o777);
    return out;
  }

  /** Starts a one-shot container; a failure carries the container's output. */
  async function runToEnd(container: GenericContainer, logs: string[]): Promise<StartedTestContainer> {
    try {
      const done = await container.start();
      started.push(done);
      return done;
    } catch (err) {
      throw new Error(`${String(err)}\n--- container output ---\n${logs.join('')}`, { cause: err });
    }
  }

  /** The coordinator container: `spikeshard sort /data --out /out ...`, started and run to exit 0. */
  function coordinator(out: string, extraArgs: string[], logs: string[]): GenericContainer {
    return new GenericContainer(image)
      .withCommand(['sort', '/data', '--out', '/out', '--threads', '1', ...extraArgs])
      .withBindMounts([
        { source: session, target: '/data', mode: 'ro' },
        { source: out, target: '/out', mode: 'rw' },
      ])
      .withEnvironment({ SPIKESHARD_SECRET: secret, SPIKESHARD_LOG_LEVEL: 'info' })
      .withLogConsumer(collect(logs))
      .withWaitStrategy(Wait.forOneShotStartup())
      .withStartupTimeout(20 * 60_000);
  }

  async function startWorker(net: StartedNetwork, alias: string): Promise<StartedTestContainer> {
    const worker = await new GenericContainer(image)
      .withCommand(['worker', '--listen', `0.0.0.0:${workerPort}`, '--data-root', '/data', '--threads', '1'])
      .withBindMounts([{ source: session, target: '/data', mode: 'ro' }])
      .withEnvironment({ SPIKESHARD_SECRET: secret, SPIKESHARD_LOG_LEVEL: 'info' })
      .withNetwork(net)
      .withNetworkAliases(alias)
      .withExposedPorts(workerPort)
      .withWaitStrategy(Wait.forListeningPorts())
      .withStartupTimeout(60_000)
      .start();
    started.push(worker);
    return worker;
  }

  test('the image sorts a recording in-process and the sorting scores', async () => {
    const out = runFolder('out-inprocess');
    const logs: string[] = [];
    await runToEnd(coordinator(out, [], logs), logs);
    assertUsefulSorting(compareProbe(session, 'imec0', path.join(out, 'imec0', 'phy')), 'container phy');
    assertUsefulSorting(compareProbe(session, 'imec0', path.join(out, 'alf', 'probe00')), 'container ALF');
    reference = outputDigests(out);
    assert.ok(Object.keys(reference).length > 20, logs.join(''));
  });

  test(
    'a coordinator and two worker containers on a Docker network give the same outputs',
    { skip: missingFeatures({ worker: true }) ?? false },
    async () => {
      network ??= await new Network().start();
      await startWorker(network, 'worker1');
      await startWorker(network, 'worker2');
      const out = runFolder('out-workers');
      const logs: string[] = [];
      await runToEnd(
        coordinator(out, ['--worker-addresses', `worker1:${workerPort},worker2:${workerPort}`], logs).withNetwork(
          network,
        ),
        logs,
      );
      assertUsefulSorting(compareProbe(session, 'imec0', path.join(out, 'imec0', 'phy')), 'distributed phy');
      assert.ok(reference, 'needs the in-process run');
      assert.deepEqual(outputDigests(out), reference, logs.join(''));
    },
  );

  test(
    'a worker container stopped in the middle of a run costs nothing: identical outputs',
    { skip: missingFeatures({ worker: true }) ?? false },
    async () => {
      network ??= await new Network().start();
      await startWorker(network, 'steady');
      const doomed = await startWorker(network, 'doomed');
      const out = runFolder('out-worker-lost');
      const logs: string[] = [];
      let finished = false;
      const run = runToEnd(
        coordinator(out, ['--worker-addresses', `steady:${workerPort},doomed:${workerPort}`], logs).withNetwork(
          network,
        ),
        logs,
      ).finally(() => {
        finished = true;
      });
      // Handled below (await run); this keeps an early failure from being reported as unhandled.
      run.catch(() => undefined);
      // Mid-run: the coordinator is working on the probe's batches.
      await waitFor(
        'the coordinator to start on imec0',
        () => (logs.join('').includes('imec0') ? true : undefined),
        5 * 60_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.equal(finished, false, 'the run ended before the worker could be stopped; use a longer recording');
      await doomed.stop({ timeout: 0 });
      await run;
      assert.ok(reference, 'needs the in-process run');
      assert.deepEqual(outputDigests(out), reference, logs.join(''));
    },
  );
});
