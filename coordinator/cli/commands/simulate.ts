// SPDX-License-Identifier: GPL-3.0-or-later
/** `spikeshard simulate OUT`: a simulated Neuropixels session with its ground truth. */
import { InvalidArgumentError, type Command } from 'commander';
import { resolveSimulateOptions, PROBE_TYPES, type SimulateRequest } from '../../simulate/options.js';
import { simulate } from '../../simulate/simulate.js';
import type { ProbeType } from '../../../native/lib/index.js';
import type { CliContext } from '../main.js';

interface SimulateFlags {
  probe?: string;
  channels?: number;
  seconds?: number;
  units?: number;
  drift?: number;
  seed?: number;
  probes?: number;
  sampleRate?: number;
  noiseUv?: number;
  lfpUv?: number;
  hashUnits?: number;
  deadChannels?: number;
  noisyChannels?: number;
  snrMin?: number;
  snrMax?: number;
  adcDelay?: boolean;
  threads?: number;
  force?: boolean;
}

function num(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError(`expected a number, got "${text}"`);
  return v;
}

function int(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(v))
    throw new InvalidArgumentError(`expected an integer, got "${text}"`);
  return v;
}

export function registerSimulate(program: Command, ctx: CliContext): void {
  program
    .command('simulate')
    .description(
      'write a simulated Neuropixels session (SpikeGLX .ap.bin + .ap.meta per probe) with its ground truth in OUT/ground_truth',
    )
    .argument('<out>', 'output folder (must be new or empty, unless --force)')
    .option('--probe <type>', `probe type: ${PROBE_TYPES.join(', ')} (default np1)`)
    .option('--channels <n>', 'neural channels per probe, 1–384 (default 384)', int)
    .option('--seconds <s>', 'duration in seconds (default 60)', num)
    .option('--units <n>', 'true units per probe (default channels / 4)', int)
    .option(
      '--drift <um>',
      'peak-to-peak drift in µm: rigid oscillation + trend + a step, non-rigid along depth (default 20)',
      num,
    )
    .option('--seed <k>', 'random seed; the output is identical for the same seed and options (default 0)', int)
    .option('--probes <p>', 'probes in the session: imec0 … imec<p-1> (default 1)', int)
    .option('--sample-rate <hz>', 'sample rate (default 30000)', num)
    .option(
      '--noise-uv <uv>',
      "median spike-band RMS of each channel's own noise, µV; the hash adds ~3 µV in quadrature (default 8)",
      num,
    )
    .option('--lfp-uv <uv>', 'typical RMS of the LFP-like signals, µV (default 60)', num)
    .option('--hash-units <n>', 'small background units not in the truth (default 8 × channels)', int)
    .option('--dead-channels <n>', 'flat channels besides the reference site (default channels / 192)', int)
    .option('--noisy-channels <n>', 'channels with 5–10× the white noise (default channels / 192)', int)
    .option('--snr-min <snr>', 'lowest true-unit SNR (default 3)', num)
    .option('--snr-max <snr>', 'highest true-unit SNR (default 25)', num)
    .option('--no-adc-delay', 'sample all channels at the same time (real probes stagger them within a sample)')
    .option('--threads <n>', 'threads for the synthesis; 0 = all cores (default 0)', int)
    .option('--force', 'replace an earlier simulation in OUT (other files there are kept)')
    .action((out: string, flags: SimulateFlags) => {
      const request: SimulateRequest = { out };
      if (flags.probe !== undefined) request.probeType = flags.probe as ProbeType;
      if (flags.channels !== undefined) request.nChannels = flags.channels;
      if (flags.seconds !== undefined) request.durationS = flags.seconds;
      if (flags.units !== undefined) request.nUnits = flags.units;
      if (flags.drift !== undefined) request.driftUm = flags.drift;
      if (flags.seed !== undefined) request.seed = flags.seed;
      if (flags.probes !== undefined) request.nProbes = flags.probes;
      if (flags.sampleRate !== undefined) request.sampleRateHz = flags.sampleRate;
      if (flags.noiseUv !== undefined) request.noiseUv = flags.noiseUv;
      if (flags.lfpUv !== undefined) request.lfpUv = flags.lfpUv;
      if (flags.hashUnits !== undefined) request.nHashUnits = flags.hashUnits;
      if (flags.deadChannels !== undefined) request.nDeadChannels = flags.deadChannels;
      if (flags.noisyChannels !== undefined) request.nNoisyChannels = flags.noisyChannels;
      if (flags.snrMin !== undefined) request.snrMin = flags.snrMin;
      if (flags.snrMax !== undefined) request.snrMax = flags.snrMax;
      if (flags.adcDelay !== undefined) request.adcDelays = flags.adcDelay;
      if (flags.threads !== undefined) request.threads = flags.threads;
      if (flags.force !== undefined) request.force = flags.force;
      const options = resolveSimulateOptions(request);
      const summary = simulate(options, ctx.log());
      const lines = [
        `simulated ${summary.probes.length} probe(s), ${summary.durationS} s each, in ${summary.elapsedS.toFixed(1)} s:`,
      ];
      for (const p of summary.probes) {
        lines.push(
          `  ${p.label}: ${p.binPath}`,
          `    ${p.nUnits} true units (SNR <5: ${p.snrBins[0]}, 5–8: ${p.snrBins[1]}, ≥8: ${p.snrBins[2]}), ${p.nSpikes} spikes; ` +
            `median noise ${p.medianNoiseUv.toFixed(1)} µV; dead ${JSON.stringify(p.deadChannels)}, noisy ${JSON.stringify(p.noisyChannels)}`,
          `    ground truth: ${p.truthDir}`,
        );
      }
      ctx.stdout(lines.join('\n'));
    });
}
