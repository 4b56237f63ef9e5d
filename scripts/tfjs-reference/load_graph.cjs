// Loads a TensorFlow.js graph model (model.json + its weight shards beside it)
// from disk, without fetch: the shared loader of run.cjs and use_lite.cjs.
'use strict';
const fs = require('fs');
const path = require('path');

async function loadGraph(tf, modelJson) {
  const graph = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const dir = path.dirname(modelJson);
  const weightSpecs = [];
  const shards = [];
  for (const group of graph.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(dir, path.basename(p))));
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: graph.modelTopology, weightSpecs, weightData,
    format: graph.format, signature: graph.signature,
  }));
}

module.exports = { loadGraph };
