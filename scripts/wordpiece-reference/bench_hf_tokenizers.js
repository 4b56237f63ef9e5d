#!/usr/bin/env node
// Hugging Face tokenizers (npm, native bindings) throughput on the corpora of
// benchmarks/bench_tokenize.cc, same sentence extraction, bert-base-uncased
// pipeline as make_wordpiece_reference.js, encodeBatch, best of --repeat.
// Thread count: RAYON_NUM_THREADS (set by benchmarks/run_text_bench.sh).
//   RAYON_NUM_THREADS=1 node bench_hf_tokenizers.js --vocab V --sst2 train.tsv --botchan botchan.txt
'use strict';
const fs = require('fs');
const hf = require('tokenizers');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : def;
}
function lines(text) {
  return text.split('\n').map(l => l.replace(/\r$/, '')).filter(l => l !== '');
}
function sst2(path) {
  return lines(fs.readFileSync(path, 'utf8')).slice(1).map(l => l.slice(0, l.lastIndexOf('\t')).replace(/ +$/, ''));
}

(async () => {
  const repeat = Number(arg('repeat', '3'));
  const threads = process.env.RAYON_NUM_THREADS || 'all';
  const wp = await hf.WordPiece.fromFile(arg('vocab'), {unkToken: '[UNK]'});
  const tok = new hf.Tokenizer(wp);
  tok.setNormalizer(hf.bertNormalizer({lowercase: true}));
  tok.setPreTokenizer(hf.bertPreTokenizer());
  tok.setPostProcessor(hf.bertProcessing(['[SEP]', 102], ['[CLS]', 101]));
  tok.addSpecialTokens(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  const corpora = [];
  if (arg('sst2')) corpora.push(['sst2_train', sst2(arg('sst2'))]);
  if (arg('botchan')) corpora.push(['botchan', lines(fs.readFileSync(arg('botchan'), 'utf8'))]);
  for (const [name, s] of corpora) {
    const bytes = s.reduce((a, x) => a + Buffer.byteLength(x, 'utf8'), 0);
    // Best wall-clock and best process CPU time (all threads), as bench_tokenize.
    let best = Infinity, bestCpu = Infinity, tokens = 0;
    for (let r = 0; r < repeat; r++) {
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      const encs = await tok.encodeBatch(s);
      const c = process.cpuUsage(c0);
      const sec = Number(process.hrtime.bigint() - t0) / 1e9;
      tokens = encs.reduce((a, e) => a + e.getLength(), 0);
      best = Math.min(best, sec);
      bestCpu = Math.min(bestCpu, (c.user + c.system) / 1e6);
    }
    const mb = bytes / 1e6;
    console.log(`${name.padEnd(11)} ${'[full] HF tokenizers encodeBatch'.padEnd(40)} ${String(threads).padStart(3)} ` +
                `${String(s.length).padStart(7)} ${mb.toFixed(2).padStart(6)} ${best.toFixed(4).padStart(8)} ` +
                `${(s.length / best).toFixed(0).padStart(10)} ${(mb / best).toFixed(2).padStart(7)} ` +
                `${bestCpu.toFixed(4).padStart(8)} ${(s.length / bestCpu).toFixed(0).padStart(10)} ` +
                `${(mb / bestCpu).toFixed(2).padStart(7)} ${String(tokens).padStart(8)}`);
  }
})().catch(e => { console.error(e); process.exit(1); });
