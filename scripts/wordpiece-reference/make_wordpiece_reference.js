#!/usr/bin/env node
// Produces the Hugging Face reference data for sense's WordPiece parity tests
// (tests/text/wordpiece_parity_test.cc) with the npm `tokenizers` package:
// Hugging Face's Rust implementation through its native (napi) bindings.
//
//   cd scripts/wordpiece-reference && npm ci && \
//     node make_wordpiece_reference.js --shared ../../../shared/data --out ../../tests/data/text
//
// The pipeline is the one in bert-base-uncased's tokenizer.json: BertNormalizer
// (clean_text, handle_chinese_chars, strip_accents = lowercase), BertPreTokenizer,
// WordPiece (unk "[UNK]", "##", 100 chars per word), BertProcessing, the
// WordPiece decoder with cleanup, and the five special tokens as added tokens
// (matched in the raw text). Other configs flip the normaliser's options.
//
// It reads <out>/wordpiece_hard_cases.jsonl and writes <out>/wordpiece_reference.tar.xz
// (deterministic: sorted names, mtime 0) holding:
//   corpus/<config>.<corpus>.txt   header "# sentences=N fnv1a64=H" (H: FNV-1a 64 of
//        the sentences joined by "\n", so the C++ test can check that it extracted the
//        same sentences), then one line per sentence: <ids>\t<b:e,...> where b:e are
//        UTF-8 byte offsets into the sentence (0:0 for [CLS]/[SEP]).
//   hard_cases.<config>.jsonl      {text, ids, tokens, offsets (bytes), decoded} per case.
//   unicode_sweep.txt              every code point whose basic-tokenizer words
//                                  differ from the identity (see sweep() below).
'use strict';
const fs = require('fs');
const path = require('path');
const hf = require('tokenizers');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : def;
}
const shared = path.resolve(arg('shared', '../../../shared/data'));
const outDir = path.resolve(arg('out', '../../tests/data/text'));
const hardCasesPath = path.join(outDir, 'wordpiece_hard_cases.jsonl');
const stage = fs.mkdtempSync(path.join(require('os').tmpdir(), 'wordpiece-reference-'));
const vocabPath = path.join(shared, 'tokenizers/bert-base-uncased/vocab.txt');

const CONFIGS = {
  uncased: {lowercase: true},                        // bert-base-uncased
  cased: {lowercase: false},                         // bert-base-cased style (no lower-casing, no accent stripping)
  strip_only: {lowercase: false, stripAccents: true},
  lower_only: {lowercase: true, stripAccents: false},
  no_chinese: {lowercase: true, handleChineseChars: false},
};

async function makeTokenizer(cfg) {
  const wp = await hf.WordPiece.fromFile(vocabPath, {unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100});
  const tok = new hf.Tokenizer(wp);
  tok.setNormalizer(hf.bertNormalizer(Object.assign({cleanText: true, handleChineseChars: true}, cfg)));
  tok.setPreTokenizer(hf.bertPreTokenizer());
  tok.setPostProcessor(hf.bertProcessing(['[SEP]', 102], ['[CLS]', 101]));
  tok.setDecoder(hf.wordPieceDecoder('##', true));
  tok.addSpecialTokens(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  return tok;
}

// FNV-1a 64 over the UTF-8 bytes, so the C++ test can check it reads the same sentences.
function fnv1a64(str) {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(str, 'utf8')) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

// HF offsets count code points; sense reports UTF-8 byte offsets.
function byteOffsets(text, offsets) {
  const cps = [...text];
  const pos = [0];
  for (const c of cps) pos.push(pos[pos.length - 1] + Buffer.byteLength(c, 'utf8'));
  return offsets.map(([b, e]) => [pos[b], pos[e]]);
}

// Sentence extraction, mirrored by tests/text/corpora.h.
function sst2(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const tab = line.lastIndexOf('\t');
    out.push(line.slice(0, tab).replace(/ +$/, ''));
  }
  return out;
}
function conll(file) {
  const out = [];
  let words = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line === '') {
      if (words.length) out.push(words.join(' '));
      words = [];
    } else if (!line.startsWith('-DOCSTART-')) {
      words.push(line.split(' ')[0]);
    }
  }
  if (words.length) out.push(words.join(' '));
  return out;
}

const CORPORA = {
  sst2_train: () => sst2(path.join(shared, 'sst2/train.tsv')),
  sst2_dev: () => sst2(path.join(shared, 'sst2/dev.tsv')),
  sst2_test: () => sst2(path.join(shared, 'sst2/test.tsv')),
  conll2003_train: () => conll(path.join(shared, 'conll2003/train.txt')),
  conll2003_dev: () => conll(path.join(shared, 'conll2003/dev.txt')),
  conll2003_test: () => conll(path.join(shared, 'conll2003/test.txt')),
};
const CORPUS_CONFIGS = {
  sst2_train: ['uncased'], sst2_dev: ['uncased'], sst2_test: ['uncased'],
  conll2003_train: ['uncased', 'cased'], conll2003_dev: ['uncased', 'cased'], conll2003_test: ['uncased', 'cased'],
};

async function corpora() {
  fs.mkdirSync(path.join(stage, 'corpus'), {recursive: true});
  for (const [name, read] of Object.entries(CORPORA)) {
    const sentences = read();
    for (const cfgName of CORPUS_CONFIGS[name]) {
      const tok = await makeTokenizer(CONFIGS[cfgName]);
      const encs = await tok.encodeBatch(sentences);
      const lines = encs.map((e, i) => {
        const offs = byteOffsets(sentences[i], e.getOffsets()).map(([b, e2]) => b + ':' + e2).join(',');
        return e.getIds().join(' ') + '\t' + offs;
      });
      const header = `# sentences=${sentences.length} fnv1a64=${fnv1a64(sentences.join('\n'))}`;
      fs.writeFileSync(path.join(stage, 'corpus', `${cfgName}.${name}.txt`), header + '\n' + lines.join('\n') + '\n');
      console.log(`${cfgName}.${name}: ${sentences.length} sentences`);
    }
  }
}

async function hardCases() {
  const cases = fs.readFileSync(hardCasesPath, 'utf8').split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l));
  for (const [cfgName, cfg] of Object.entries(CONFIGS)) {
    const tok = await makeTokenizer(cfg);
    const lines = [];
    for (const c of cases) {
      const e = await tok.encode(c.text);
      const decoded = await tok.decode(e.getIds(), true);
      lines.push(JSON.stringify({text: c.text, ids: e.getIds(), tokens: e.getTokens(),
                                 offsets: byteOffsets(c.text, e.getOffsets()), decoded}));
    }
    fs.writeFileSync(path.join(stage, `hard_cases.${cfgName}.jsonl`), lines.join('\n') + '\n');
    console.log(`hard_cases.${cfgName}: ${cases.length} cases`);
  }
}

// For every code point c (surrogates excluded) and every config, the words that
// BertNormalizer + BertPreTokenizer make of "a" + c + "a". Most code points give
// the single word "a<c>a"; only the others are written, one line per run of
// consecutive code points that behave alike. Words are written as code points in
// hex, with "=" standing for c itself, joined by "," within a word and "|"
// between words; "-" is no words at all.
function sweep() {
  const cfgNames = Object.keys(CONFIGS);
  const norms = cfgNames.map(k => hf.bertNormalizer(Object.assign({cleanText: true, handleChineseChars: true}, CONFIGS[k])));
  const pre = hf.bertPreTokenizer();
  const rows = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCodePoint(cp);
    const fields = norms.map(n => {
      const words = pre.preTokenizeString(n.normalizeString('a' + c + 'a')).map(([w]) => w);
      if (words.length === 0) return '-';
      return words.map(w => [...w].map(ch => ch.codePointAt(0) === cp ? '=' : ch.codePointAt(0).toString(16)).join(',')).join('|');
    });
    const key = fields.join(' ');
    if (fields.every(f => f === '61,=,61')) continue;
    const last = rows[rows.length - 1];
    if (last && last.key === key && last.end === cp - 1) {
      last.end = cp;
    } else {
      rows.push({start: cp, end: cp, key});
    }
  }
  const header = '# configs: ' + cfgNames.join(' ') + '\n';
  fs.writeFileSync(path.join(stage, 'unicode_sweep.txt'),
                   header + rows.map(r => r.start.toString(16) + (r.end > r.start ? '-' + r.end.toString(16) : '') + ' ' + r.key).join('\n') + '\n');
  console.log(`unicode_sweep: ${rows.length} rows`);
}

(async () => {
  sweep();
  await hardCases();
  await corpora();
  const archive = path.join(outDir, 'wordpiece_reference.tar.xz');
  require('child_process').execFileSync('tar', [
    '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner',
    '-cJf', archive, '-C', stage, '.'], {env: Object.assign({}, process.env, {XZ_OPT: '-9'})});
  fs.rmSync(stage, {recursive: true});
  console.log(`wrote ${archive} (${fs.statSync(archive).size} bytes)`);
})().catch(e => { console.error(e); process.exit(1); });
