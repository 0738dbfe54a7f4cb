// The PouchDB peer of bench/sync.py: PouchDB replication to express-pouchdb, timed the way our
// push is timed. Not part of the product; installed by bench/sync.py with `npm ci` in this folder.
//
//   node peer.js serve DIR                 express-pouchdb on 127.0.0.1:<free port>, LevelDB files in
//                                          DIR; prints {"port": N} and runs until stdin closes
//   node peer.js replicate DOCS URL BATCH DIR
//                                          loads DOCS (JSON lines: our journal entries) into a fresh
//                                          local PouchDB in DIR (not timed), then times
//                                          PouchDB.replicate(local, URL, {batch_size: BATCH}) and
//                                          prints {"docs_written", "seconds", "doc_count"}
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const PouchDB = require('pouchdb');

async function serve(dir) {
  const express = require('express');
  const expressPouchDB = require('express-pouchdb');
  fs.mkdirSync(dir, { recursive: true });
  const ServerPouch = PouchDB.defaults({ prefix: dir + path.sep });
  const app = express();
  // minimumForPouchDB: what replication needs (no Fauxton, no auth), i.e. the leanest server.
  app.use('/', expressPouchDB(ServerPouch, { mode: 'minimumForPouchDB', logPath: path.join(dir, 'log.txt') }));
  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
  });
  process.stdin.resume();
  process.stdin.on('end', () => server.close(() => process.exit(0)));
}

async function replicate(docsFile, url, batchSize, dir) {
  fs.mkdirSync(dir, { recursive: true });
  const source = new PouchDB(path.join(dir, 'source'));
  const lines = readline.createInterface({ input: fs.createReadStream(docsFile) });
  let chunk = [];
  for await (const line of lines) {
    if (!line) continue;
    const entry = JSON.parse(line);
    // One document per journal entry, keyed by its event id (our idempotency key).
    chunk.push({ _id: entry.event_id, ...entry });
    if (chunk.length === 1000) {
      await source.bulkDocs(chunk);
      chunk = [];
    }
  }
  if (chunk.length) await source.bulkDocs(chunk);
  process.stdout.write('loaded\n'); // bench/sync.py reads the server's CPU time from here
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  const result = await PouchDB.replicate(source, url, { batch_size: batchSize });
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const target = new PouchDB(url);
  const info = await target.info();
  process.stdout.write(
    JSON.stringify({
      docs_written: result.docs_written, seconds, cpu_seconds: (cpu.user + cpu.system) / 1e6,
      doc_count: info.doc_count, ok: result.ok,
    }) + '\n'
  );
  await source.close();
}

const [mode, ...args] = process.argv.slice(2);
const run = mode === 'serve' ? serve(args[0]) : mode === 'replicate'
  ? replicate(args[0], args[1], Number(args[2]), args[3]) : Promise.reject(new Error(`unknown mode ${mode}`));
run.catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + '\n');
  process.exit(1);
});
