#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled package (npm run build).
import { main } from '../dist/src/cli/main.js';

// `omirr ... | head` closes our stdout early: that is the reader's choice, not an error.
// `serve --stdio` destroys its stdout itself when it drops a peer that broke the protocol
// (ABORT_ERR): that connection is over, the command ends normally.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  if (err.code === 'ABORT_ERR') return;
  throw err;
});

main(process.argv).catch((err) => {
  process.stderr.write(`omirr: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(70);
});
