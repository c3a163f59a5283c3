// e2e_real_node's program: three worker threads (each its own V8 isolate)
// churn objects and Buffers, the main thread compresses with zlib, takes
// a signal through its own handler, runs a child node process, and exits
// with status 5. Output is deterministic.
'use strict';
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const zlib = require('zlib');
const { execFileSync } = require('child_process');

if (!isMainThread) {
  let s = 0;
  const keep = [];
  for (let i = 0; i < 200000; i++) {
    keep.push({ i, v: 'x' + i });
    if (keep.length > 1000) keep.shift();
    s += keep.length;
  }
  const bufs = [];
  for (let i = 0; i < 200; i++) bufs.push(Buffer.allocUnsafe(65536).fill(i + workerData));
  parentPort.postMessage(s + bufs.length);
} else {
  const sums = [];
  let done = 0;
  for (let i = 0; i < 3; i++) {
    const w = new Worker(__filename, { workerData: i });
    w.on('message', (m) => {
      sums[i] = m;
      if (++done < 3) return;
      console.log('sums', sums.join(','));
      const gz = zlib.gzipSync(Buffer.alloc(1 << 20, 7));
      console.log('gzip', gz.length, zlib.gunzipSync(gz).length);
      const alive = setTimeout(() => {}, 30000);   // until the signal comes
      process.on('SIGUSR2', () => {
        clearTimeout(alive);
        console.log('signal handled');
        const out = execFileSync(process.execPath, ['-e', 'console.log(6 * 7)']).toString().trim();
        console.log('child said', out);
        process.exitCode = 5;
      });
      process.kill(process.pid, 'SIGUSR2');
    });
  }
}
