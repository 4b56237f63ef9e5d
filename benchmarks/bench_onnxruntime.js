#!/usr/bin/env node
// The ONNX Runtime side of the sense vision benchmark: the model alone.
//
//   node benchmarks/bench_onnxruntime.js --model resnet18.onnx --threads 1 --batch 16 [--seconds 8] [--json]
//        [--input batch.f32] [--dump-output out.f32]
//
// Runs the ONNX export of the same network (scripts/export_torchvision.py
// --onnx) with onnxruntime-node's bundled CPU library (install with
// `npm install --ignore-scripts` in benchmarks/): intra-op threads = --threads,
// one inter-op thread, sequential execution, all graph optimisations. The
// input is a [batch, 3, H, W] float32 tensor read from --input (raw
// little-endian float32, e.g. real photos preprocessed by sense) or, without
// it, deterministic pseudo-random values; the shape comes from the sidecar
// MODEL.json. Reports model-only images/s, latency per run and peak RSS.
// --dump-output writes the logits of the first run (raw float32) so that the
// numbers can be checked against TorchScript.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

function parseArgs(argv) {
  const a = { threads: 1, batch: 1, seconds: 8, warmup: 3, json: false };
  for (let i = 2; i < argv.length; ++i) {
    const k = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--model') a.model = next();
    else if (k === '--threads') a.threads = parseInt(next(), 10);
    else if (k === '--batch') a.batch = parseInt(next(), 10);
    else if (k === '--seconds') a.seconds = parseFloat(next());
    else if (k === '--warmup') a.warmup = parseInt(next(), 10);
    else if (k === '--input') a.input = next();
    else if (k === '--dump-output') a.dump = next();
    else if (k === '--json') a.json = true;
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.model || !(a.threads >= 1) || !(a.batch >= 1)) {
    throw new Error('usage: bench_onnxruntime.js --model MODEL.onnx [--threads N] [--batch N] [--seconds S] [--json]');
  }
  return a;
}

function percentile(v, q) {
  const s = [...v].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.round(q * (s.length - 1)))];
}

async function main() {
  const a = parseArgs(process.argv);
  const meta = JSON.parse(fs.readFileSync(a.model + '.json', 'utf8'));
  const img = meta.image;
  const c = img.color === 'gray' ? 1 : 3;
  const shape = [a.batch, c, img.height, img.width];
  const per = c * img.height * img.width;
  const data = new Float32Array(a.batch * per);
  if (a.input) {
    const buf = fs.readFileSync(a.input);
    const src = new Float32Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 4));
    const n = Math.floor(src.length / per);
    if (n < 1) throw new Error(`${a.input}: fewer than ${per} float32 values`);
    for (let i = 0; i < a.batch; ++i) data.set(src.subarray((i % n) * per, (i % n + 1) * per), i * per);
  } else {
    let s = 12345;
    for (let i = 0; i < data.length; ++i) {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      data[i] = (s / 0x7fffffff) * 4 - 2;
    }
  }
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  });
  const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
  const outName = session.outputNames[0];

  const w0 = process.hrtime.bigint();
  for (let i = 0; i < a.warmup; ++i) {
    const r = await session.run(feeds);
    if (i === 0 && a.dump) fs.writeFileSync(a.dump, Buffer.from(r[outName].data.buffer));
  }
  const warmupS = Number(process.hrtime.bigint() - w0) / 1e9;

  const lat = [];
  let images = 0;
  const s0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();  // all threads of the process, microseconds
  let elapsed = 0;
  do {
    const c0 = process.hrtime.bigint();
    await session.run(feeds);
    const c1 = process.hrtime.bigint();
    lat.push(Number(c1 - c0) / 1e6);
    images += a.batch;
    elapsed = Number(c1 - s0) / 1e9;
  } while (elapsed < a.seconds);
  const cpu = process.cpuUsage(cpu0);

  const r = {
    impl: 'onnxruntime', threads: a.threads, batch: a.batch, images, seconds: elapsed,
    model_ips: images / elapsed, model_cpu_ms_per_image: (cpu.user + cpu.system) / 1e3 / images,
    latency_ms_median: percentile(lat, 0.5), latency_ms_p90: percentile(lat, 0.9),
    peak_rss_mib: process.resourceUsage().maxRSS / 1024, load_s: loadS, warmup_s: warmupS,
    ort: require(path.join(__dirname, 'node_modules', 'onnxruntime-node', 'package.json')).version,
  };
  if (a.json) {
    console.log(JSON.stringify(r));
  } else {
    console.log(`onnxruntime ${r.ort} threads ${a.threads} batch ${a.batch}: ${r.model_ips.toFixed(2)} images/s (model only; ` +
                `${r.model_cpu_ms_per_image.toFixed(1)} CPU ms per image)`);
    console.log(`  latency per ${a.batch === 1 ? 'image' : 'batch'}: median ${r.latency_ms_median.toFixed(1)} ms, ` +
                `p90 ${r.latency_ms_p90.toFixed(1)} ms; peak RSS ${r.peak_rss_mib.toFixed(0)} MiB`);
  }
}

main().catch((e) => {
  console.error(`bench_onnxruntime: ${e.message}`);
  process.exit(1);
});
