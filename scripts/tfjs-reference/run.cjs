// Runs a TensorFlow.js graph model with the pure-JS CPU backend on raw float32
// inputs and writes the raw float32 outputs: the reference that
// scripts/convert_tfjs.py is checked against.
//
//   node run.cjs MODEL.json INPUTS.bin N,C,H,W OUT.bin OUTPUT_NAME [OUTPUT_NAME ...]
//
// INPUTS.bin holds N inputs of shape [1,C,H,W] back to back (little-endian
// float32). Each is run alone (batch 1, as the graph declares); OUT.bin gets,
// for each input in order, every named output flattened, back to back.
// OUT.bin.json records the shape of each output.
'use strict';
const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const { loadGraph } = require('./load_graph.cjs');

async function main() {
  const [modelJson, inputsBin, shapeArg, outBin, ...names] = process.argv.slice(2);
  if (!names.length) {
    console.error('usage: node run.cjs MODEL.json INPUTS.bin N,C,H,W OUT.bin OUTPUT_NAME [...]');
    process.exit(2);
  }
  await tf.setBackend('cpu');
  const model = await loadGraph(tf, modelJson);
  const [n, c, h, w] = shapeArg.split(',').map(Number);
  const raw = fs.readFileSync(inputsBin);
  const per = c * h * w;
  if (raw.byteLength !== n * per * 4) {
    throw new Error(`${inputsBin}: ${raw.byteLength} bytes; expected ${n * per * 4} for ${n}x${c}x${h}x${w} float32`);
  }
  const data = new Float32Array(raw.buffer, raw.byteOffset, n * per);
  const fd = fs.openSync(outBin, 'w');
  let shapes = null;
  for (let i = 0; i < n; i++) {
    const x = tf.tensor4d(data.slice(i * per, (i + 1) * per), [1, c, h, w]);
    const outs = model.execute(x, names);
    const list = Array.isArray(outs) ? outs : [outs];
    shapes = list.map((t) => t.shape);
    for (const t of list) {
      const v = t.dataSync();
      fs.writeSync(fd, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
      t.dispose();
    }
    x.dispose();
  }
  fs.closeSync(fd);
  fs.writeFileSync(outBin + '.json', JSON.stringify({ backend: tf.getBackend(), tfjs: tf.version.tfjs, names, shapes, n }, null, 1));
  console.log(`wrote ${outBin}: ${n} inputs, outputs ${names.map((m, k) => `${m} ${JSON.stringify(shapes[k])}`).join(', ')} (tfjs ${tf.version.tfjs}, backend ${tf.getBackend()})`);
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
