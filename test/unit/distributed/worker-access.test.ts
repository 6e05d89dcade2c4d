// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The worker's security model (docs/distributed.md): calls without the run secret are refused
 * with UNAUTHENTICATED; files outside the data roots (directly, through `..` or a symbolic link)
 * with PERMISSION_DENIED; a malformed stream with INVALID_ARGUMENT. An allowed call gives the
 * in-process engine's result bit for bit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { BatchEngine, discoverSession, inspectRecording } from '../../../native/lib/index.js';
import { silentLogger } from '../../../proto/log.js';
import { defaultParams } from '../../../proto/params.js';
import { encodeFrames } from '../../../proto/wire.js';
import { probeSetup } from '../../../coordinator/sort/pipeline.js';
import { startWorker } from '../../../worker/server.js';
import { runCli } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';
import { WorkerClient } from '../../helpers/worker-client.js';

test('the worker refuses calls without the secret and files outside its data roots', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tmpDir('spikeshard-access-');
  const secret = 'the-run-secret';
  const root = path.join(dir, 'root');
  const outside = path.join(dir, 'outside');
  mkdirSync(outside);
  const sim = runCli(['simulate', root, '--channels', '8', '--seconds', '2', '--units', '2', '--seed', '3']);
  assert.equal(sim.status, 0, sim.stderr);
  const probe = (await discoverSession(root)).probes[0]!;
  const info = await inspectRecording(probe);
  for (const f of [info.binPath, info.metaPath]) copyFileSync(f, path.join(outside, path.basename(f)));
  mkdirSync(path.join(root, 'links'));
  for (const f of [info.binPath, info.metaPath]) {
    symlinkSync(path.join(outside, path.basename(f)), path.join(root, 'links', path.basename(f)));
  }
  const worker = await startWorker(
    { listen: '127.0.0.1:0', dataRoots: [root], secret, threads: 1, version: 'test' },
    silentLogger(),
  );
  const client = new WorkerClient(worker.address);
  try {
    const params = defaultParams();
    const request = (recordingPath: string) => ({
      work: {
        probe: 'imec0',
        recordingPath,
        allowPartialSample: false,
        setup: probeSetup(info),
        params,
        paramsJson: JSON.stringify(params),
      },
      window: { readStart: 0, readEnd: 20_000, marginSamples: 1024 },
    });

    assert.equal((await client.health(null)).code, grpc.status.UNAUTHENTICATED);
    assert.equal((await client.health('wrong')).code, grpc.status.UNAUTHENTICATED);
    const health = await client.health(secret);
    assert.equal(health.code, grpc.status.OK);
    assert.equal(health.value?.['serving'], true);

    const noSecret = await client.call('statistics', null, request(info.binPath));
    assert.equal(noSecret.code, grpc.status.UNAUTHENTICATED, noSecret.details);
    const wrongSecret = await client.call('statistics', secret + 'x', request(info.binPath));
    assert.equal(wrongSecret.code, grpc.status.UNAUTHENTICATED, wrongSecret.details);

    const basename = path.basename(info.binPath);
    for (const p of [
      path.join(outside, basename),
      path.join(root, '..', 'outside', basename),
      path.join(root, 'links', basename),
      '/etc/passwd',
    ]) {
      const r = await client.call('statistics', secret, request(p));
      assert.equal(r.code, grpc.status.PERMISSION_DENIED, `${p}: ${grpc.status[r.code]} ${r.details}`);
      assert.match(r.details, /outside the worker's data roots/);
    }

    const frames = encodeFrames('statisticsRequest', request(info.binPath));
    const truncated = await client.call('statistics', secret, {}, frames.slice(0, 1));
    assert.equal(truncated.code, grpc.status.INVALID_ARGUMENT, truncated.details);
    const wrongBody = await client.call('learn', secret, request(info.binPath), frames);
    assert.equal(wrongBody.code, grpc.status.INVALID_ARGUMENT, wrongBody.details);

    const ok = await client.call('statistics', secret, request(info.binPath));
    assert.equal(ok.code, grpc.status.OK, ok.details);
    const engine = new BatchEngine({ threads: 1 });
    const local = await engine.statistics({ work: request(info.binPath).work, window: request(info.binPath).window });
    await engine.close();
    assert.deepEqual(ok.value?.['labels'], local.labels);
    const got = ok.value?.['covariance'] as Float64Array;
    assert.ok(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(local.covariance.buffer)));
  } finally {
    client.close();
    await worker.close(1_000);
    cleanup();
  }
});
