// The live progress line of `omirr sync --progress` on a TTY (files, bytes, rate, ETA),
// redrawn in place at most 4 times a second, and the closing summary line.
import type { Progress, SyncResult } from '../engine/executePlan.js';
import { count } from '../core/count.js';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  // whole bytes as they are; a fraction (a rate) and larger units to one decimal
  return `${i === 0 && Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}


export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '--:--';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function progressLine(p: Progress): string {
  if (p.phase === 'scanning' || p.phase === 'planning') return `${p.phase}...`;
  const pct = p.bytesTotal > 0 ? Math.min(100, Math.floor((100 * p.bytesDone) / p.bytesTotal)) : 100;
  return (
    `${p.filesDone}/${count(p.filesTotal, 'file')}  ${formatBytes(Math.min(p.bytesDone, p.bytesTotal))}/${formatBytes(p.bytesTotal)} (${pct}%)` +
    `  ${formatBytes(p.rate)}/s  ETA ${p.etaSec === undefined ? '--:--' : formatDuration(p.etaSec)}`
  );
}

export function summaryLine(r: SyncResult): string {
  const secs = r.durationMs / 1000;
  const parts = [
    `${r.dryRun ? 'would send' : 'sent'} ${count(r.dryRun ? r.planned.transfers : r.filesSent, 'file')} (${formatBytes(r.dryRun ? r.planned.bytes : r.bytesSent)})`,
    `${count(r.dryRun ? r.planned.mkdirs : r.dirsCreated, 'dir')} created`,
    count(r.dryRun ? r.planned.symlinks : r.symlinks, 'symlink'),
    `${count(r.dryRun ? r.planned.setattrs : r.attrsSet, 'attr')} set`,
    `${r.dryRun ? r.planned.deletes : r.deleted} deleted`,
  ];
  if (r.failed.length) parts.push(`${r.failed.length} FAILED`);
  const rate = secs > 0 && !r.dryRun ? `, ${formatBytes(r.bytesSent / secs)}/s` : '';
  return `${parts.join(', ')} in ${secs.toFixed(2)} s${rate}`;
}

/** Writes progress to a TTY stream, overwriting one line; no-op on a non-TTY. */
export class ProgressLine {
  private last = 0;
  private shown = false;
  constructor(private readonly out: NodeJS.WriteStream) {}

  update(p: Progress): void {
    if (!this.out.isTTY) return;
    const now = Date.now();
    if (now - this.last < 250 && p.phase === 'transferring') return;
    this.last = now;
    const cols = this.out.columns || 80;
    this.out.write(`\r${progressLine(p).slice(0, cols - 1).padEnd(cols - 1)}`);
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }
}
